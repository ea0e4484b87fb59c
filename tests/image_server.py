"""A loopback HTTP server for download tests: good images of every common kind, and hostile responses.
It binds to 127.0.0.1 only, answers a bounded number of requests, and never streams for long."""
import http.server
import io
import threading
import time

from PIL import Image

MAX_REQUESTS = 500      # a runaway client can't keep the server busy forever
DRIP_SECONDS = 10       # the slow-drip response gives up on its own after this long


def encode(img, fmt, **kw) -> bytes:
    buffer = io.BytesIO()
    img.save(buffer, fmt, **kw)
    return buffer.getvalue()


def photo(width, height, seed=0, grain=True) -> Image.Image:
    "A photo-like RGB image: a gradient, with film grain unless `grain` is False; different for each seed."
    img = Image.merge('RGB', [Image.linear_gradient('L').rotate(90 * (seed + c)).resize((width, height)) for c in range(3)])
    if not grain: return img
    return Image.blend(img, Image.effect_noise((width, height), 40 + seed).convert('RGB'), 0.3)


def good_images() -> dict:
    "Path -> (content type, body) for valid images of each kind the downloader must accept."
    animated = [photo(120, 90, s).convert('P') for s in (1, 2)]
    gif = io.BytesIO()
    animated[0].save(gif, 'GIF', save_all=True, append_images=animated[1:], duration=100, loop=0)
    rgba = photo(300, 200, 3).convert('RGBA')
    rgba.putalpha(128)
    return {
        '/good/photo.jpg': ('image/jpeg', encode(photo(800, 600, 4), 'JPEG')),
        '/good/transparent.png': ('image/png', encode(rgba, 'PNG')),
        '/good/picture.webp': ('image/webp', encode(photo(500, 500, 5), 'WEBP')),
        '/good/animated.gif': ('image/gif', gif.getvalue()),
        '/good/gray.jpg': ('image/jpeg', encode(photo(640, 480, 6).convert('L'), 'JPEG')),
        '/good/cmyk.jpg': ('image/jpeg', encode(photo(640, 480, 7).convert('CMYK'), 'JPEG')),
        '/good/huge-dimensions.jpg': ('image/jpeg', encode(photo(6000, 4000, 8, grain=False), 'JPEG')),
        '/escape.jpg': ('image/jpeg', encode(photo(300, 300, 9), 'JPEG')),
        '/dup/first.jpg': ('image/jpeg', encode(photo(400, 300, 10), 'JPEG')),
    }


class LoopbackServer:
    "An HTTP server on 127.0.0.1 (a free port) serving `self._handler()`'s class from a thread; a context manager."
    def _start_server(self):
        self.server = http.server.ThreadingHTTPServer(('127.0.0.1', 0), self._handler())
        self.server.daemon_threads = True
        self.base = f'http://127.0.0.1:{self.server.server_address[1]}'

    def __enter__(self):
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc):
        self.server.shutdown()
        self.server.server_close()


class ImageServer(LoopbackServer):
    "Serves `good_images()` plus the hostile paths handled in `Handler`; use as a context manager."
    def __init__(self):
        self.pages = good_images()
        self.pages['/dup/second.jpg'] = self.pages['/dup/first.jpg']   # same picture under another URL
        jpeg = self.pages['/good/photo.jpg'][1]
        self.pages['/bad/html.jpg'] = ('image/jpeg', b'<!doctype html><html><body>Not a picture</body></html>')
        self.pages['/bad/truncated.jpg'] = ('image/jpeg', jpeg[:len(jpeg) // 3])
        self.pages['/bad/empty.jpg'] = ('image/jpeg', b'')
        self.pages['/bad/bomb.png'] = ('image/png', encode(Image.new('1', (20000, 20000)), 'PNG'))
        self.requests = 0
        self._start_server()

    def url(self, path): return self.base + path

    def _handler(self):
        owner = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = 'HTTP/1.1'
            def log_message(self, *args): pass

            def do_GET(self):
                owner.requests += 1
                if owner.requests > MAX_REQUESTS: return self._send(503, 'text/plain', b'enough')
                special = {'/bad/huge-declared': self._huge_declared, '/bad/huge-stream': self._huge_stream,
                           '/bad/slow-drip.jpg': self._slow_drip, '/bad/redirect-loop': self._redirect_loop,
                           '/bad/redirect-file': self._redirect_file}
                if self.path.split('?')[0] in special: return special[self.path.split('?')[0]]()
                path = self.path.split('?')[0]
                path = '/escape.jpg' if path.endswith('/escape.jpg') else path  # however the client spelt the dots
                if path in owner.pages: return self._send(200, *owner.pages[path])
                self._send(404, 'text/plain', b'not found')

            def _send(self, status, kind, body):
                self.send_response(status)
                self.send_header('Content-Type', kind)
                self.send_header('Content-Length', str(len(body)))
                self.end_headers()
                try: self.wfile.write(body)
                except OSError: pass   # the client gave up early, which is its right

            def _huge_declared(self):
                # Claims 100 MB; a careful client stops at the header.
                self.send_response(200)
                self.send_header('Content-Type', 'image/jpeg')
                self.send_header('Content-Length', str(100 * 2**20))
                self.end_headers()
                self._stream(100 * 2**20)

            def _huge_stream(self):
                # 100 MB with no length announced: the client must count bytes itself.
                self.send_response(200)
                self.send_header('Content-Type', 'image/jpeg')
                self.send_header('Connection', 'close')
                self.end_headers()
                self._stream(100 * 2**20)
                self.close_connection = True

            def _stream(self, total):
                block = b'\xff' * 2**16
                try:
                    for _ in range(total // len(block)): self.wfile.write(block)
                except OSError: pass   # the client hung up, as it should

            def _slow_drip(self):
                self.send_response(200)
                self.send_header('Content-Type', 'image/jpeg')
                self.send_header('Content-Length', '100000')
                self.end_headers()
                stop = time.monotonic() + DRIP_SECONDS
                try:
                    while time.monotonic() < stop:
                        self.wfile.write(b'\xff')
                        self.wfile.flush()
                        time.sleep(0.2)
                except OSError: pass
                self.close_connection = True

            def _redirect_loop(self): self._redirect(self.path)
            def _redirect_file(self): self._redirect('file:///etc/passwd')

            def _redirect(self, location):
                self.send_response(302)
                self.send_header('Location', location)
                self.send_header('Content-Length', '0')
                self.end_headers()

        return Handler
