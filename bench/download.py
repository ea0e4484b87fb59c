"""Image pipeline benchmark: fastai's recipe against `course_utils.download_images`, on a loopback server.

The server (127.0.0.1 only, bounded in requests) serves generated photo-like JPEGs of 300-3000 px with a
random delay per request, and a share of bad responses (HTTP errors, HTML pages, truncated and empty files).
Each pipeline runs in its own fresh process, alternating A, B, A, B, ... so neither gets a warmer machine:

  A  fastai's recipe: download_images, resize_images(max_size=400), verify_images, unlink the failures
  B  course_utils.download_images (download, verify, shrink and save in one pass per image)

    python bench/download.py              # full: 400 images, 50-200 ms latency, 3 rounds
    python bench/download.py --quick      # CI: 40 small images, short latency, 3 rounds (the median ratio)
"""
import argparse
import http.server
import json
import os
import random
import subprocess
import sys
import tempfile
import threading
import time
import zlib
from pathlib import Path

from PIL import Image, ImageDraw, ImageFilter

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import PYTHON, REPO, machine, median, peak_rss_mb, summary, table  # noqa: E402

BAD_KINDS = ['http404', 'html', 'truncated', 'empty', 'http500']
PHOTO_VERSION = 1   # bump when the photo generator changes, so cached photos are remade


# ---------------------------------------------------------------- photos

def photo_like(index:int, long_side:int) -> Image.Image:
    "A photo-like picture: sky and ground gradients, soft shapes, film grain; different for each index."
    rng = random.Random(index)
    width, height = rng.choice([(4, 3), (3, 2), (1, 1), (3, 4), (2, 3)])
    scale = long_side / max(width, height)
    size = (max(1, round(width * scale)), max(1, round(height * scale)))
    sketch = (max(8, size[0] // 4), max(8, size[1] // 4))   # draw small, then enlarge: blur comes for free
    colour = lambda: tuple(rng.randrange(256) for _ in range(3))
    img = Image.new('RGB', sketch, colour())
    draw = ImageDraw.Draw(img)
    horizon = rng.uniform(0.3, 0.7) * sketch[1]
    draw.rectangle([0, horizon, sketch[0], sketch[1]], fill=colour())
    for _ in range(rng.randrange(6, 20)):
        x, y, r = rng.uniform(0, sketch[0]), rng.uniform(0, sketch[1]), rng.uniform(2, sketch[0] / 4)
        draw.ellipse([x - r, y - r * rng.uniform(0.4, 1.5), x + r, y + r], fill=colour())
    img = img.filter(ImageFilter.GaussianBlur(1.5)).resize(size, Image.BICUBIC)
    grain = Image.effect_noise(size, rng.uniform(15, 40)).convert('RGB')
    return Image.blend(img, grain, 0.2)


def make_photos(folder:Path, n:int, min_px:int, max_px:int) -> list[Path]:
    "`n` JPEGs in `folder` (made once: the folder name holds the parameters)."
    folder.mkdir(parents=True, exist_ok=True)
    paths = [folder/f'{i:04d}.jpg' for i in range(n)]
    for i, path in enumerate(paths):
        if path.exists(): continue
        long_side = random.Random(f'size{i}').randint(min_px, max_px)
        tmp = path.with_suffix('.part')
        photo_like(i, long_side).save(tmp, 'JPEG', quality=88)
        os.replace(tmp, path)
    return paths


def photo_folder(n:int, min_px:int, max_px:int) -> Path:
    cache = Path(os.environ.get('XDG_CACHE_HOME') or Path.home()/'.cache')/'course_bench'
    return cache/f'photos-v{PHOTO_VERSION}-{n}-{min_px}-{max_px}'


# ---------------------------------------------------------------- server

class QuietServer(http.server.ThreadingHTTPServer):
    daemon_threads = True
    def handle_error(self, request, client_address): pass   # a client hanging up early is its own business


class PhotoServer:
    "Serves /img/<i>.jpg with a delay of `latency` seconds (a range) per request; `bad` indices misbehave."
    def __init__(self, photos:list[Path], bad:dict, latency:tuple, max_requests:int):
        self.photos, self.bad, self.latency, self.max_requests = photos, bad, latency, max_requests
        self.requests = 0
        self.lock = threading.Lock()
        self.server = QuietServer(('127.0.0.1', 0), self._handler())
        self.base = f'http://127.0.0.1:{self.server.server_address[1]}'

    def urls(self) -> list[str]: return [f'{self.base}/img/{i}.jpg' for i in range(len(self.photos))]

    def delay(self, index:int) -> float:
        "The same delay for the same image in every run, so A and B wait exactly as long."
        lo, hi = self.latency
        return lo + (hi - lo) * (zlib.crc32(b'%d' % index) % 1000) / 999

    def body(self, index:int) -> tuple[int, str, bytes]:
        kind = self.bad.get(index)
        if kind == 'http404': return 404, 'text/html', b'<html>Not found</html>'
        if kind == 'http500': return 500, 'text/html', b'<html>Server error</html>'
        if kind == 'html': return 200, 'image/jpeg', b'<!doctype html><html><body>A page, not a picture</body></html>'
        if kind == 'empty': return 200, 'image/jpeg', b''
        data = self.photos[index].read_bytes()
        if kind == 'truncated': data = data[:len(data) // 2]
        return 200, 'image/jpeg', data

    def _handler(self):
        owner = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = 'HTTP/1.1'
            def log_message(self, *args): pass

            def do_GET(self):
                with owner.lock:
                    owner.requests += 1
                    over = owner.requests > owner.max_requests
                name = self.path.rsplit('/', 1)[-1].split('.')[0]
                if over or not name.isdigit() or int(name) >= len(owner.photos):
                    status, kind, data = 503 if over else 404, 'text/plain', b'no'
                else:
                    time.sleep(owner.delay(int(name)))
                    status, kind, data = owner.body(int(name))
                self.send_response(status)
                self.send_header('Content-Type', kind)
                self.send_header('Content-Length', str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        return Handler

    def __enter__(self):
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc):
        self.server.shutdown()
        self.server.server_close()


def bad_indices(n:int, share:float, seed:int=0) -> dict:
    "Which images misbehave, and how: `share` of them, cycling through BAD_KINDS."
    picked = sorted(random.Random(seed).sample(range(n), round(n * share)))
    return {index: BAD_KINDS[k % len(BAD_KINDS)] for k, index in enumerate(picked)}


# ---------------------------------------------------------------- the two pipelines (run in a child process)

def run_fastai(urls:list[str], dest:Path, workers:int):
    "fastai's recipe, as in its book and course: download, resize in place, verify, delete what fails."
    from fastai.vision.all import download_images, get_image_files, resize_images, verify_images
    started = time.perf_counter()
    download_images(dest, urls=urls, n_workers=workers)
    resize_images(dest, max_size=400, dest=dest)
    failed = verify_images(get_image_files(dest))
    failed.map(Path.unlink)
    return time.perf_counter() - started


def run_course(urls:list[str], dest:Path, workers:int):
    from course_utils.download import download_images
    started = time.perf_counter()
    download_images(urls, dest, max_size=400, workers=workers, show=False)
    return time.perf_counter() - started


def client(kind:str, url_file:Path, dest:Path, workers:int):
    started = time.perf_counter()
    urls = url_file.read_text().split()
    pipeline = {'A': run_fastai, 'B': run_course}[kind]
    seconds = pipeline(urls, dest, workers)
    rss = max(peak_rss_mb(), peak_rss_mb(__import__('resource').RUSAGE_CHILDREN))
    print(json.dumps({'seconds': seconds, 'process_seconds': time.perf_counter() - started, 'peak_rss_mb': rss}))


# ---------------------------------------------------------------- measuring

def is_valid_image(path:Path) -> bool:
    "Fully decodes (no draft mode, no tolerance for truncation): what a training run would need."
    try:
        with Image.open(path) as img:
            img.load()
            return img.mode == 'RGB'
    except Exception: return False


def inspect_folder(dest:Path) -> dict:
    files = [p for p in dest.rglob('*') if p.is_file()]
    return {'files': len(files), 'bytes': sum(p.stat().st_size for p in files),
            'invalid': sum(not is_valid_image(p) for p in files)}


def one_run(kind:str, url_file:Path, workers:int, timeout:float) -> dict:
    with tempfile.TemporaryDirectory(prefix=f'bench-{kind}-') as tmp:
        dest = Path(tmp)/'images'
        env = dict(os.environ, PYTHONWARNINGS='ignore')
        out = subprocess.run([PYTHON, __file__, '--client', kind, '--urls', str(url_file), '--dest', str(dest),
                              '--workers', str(workers)], capture_output=True, text=True, timeout=timeout, cwd=REPO, env=env)
        if out.returncode != 0: sys.exit(f"pipeline {kind} failed:\n{out.stderr[-3000:]}")
        result = json.loads(out.stdout.strip().splitlines()[-1])
        return {'pipeline': kind, **result, **inspect_folder(dest)}


def decode_seconds(photos:list[Path], bad:dict) -> float:
    "Serial time to decode, shrink and save every good image the way B does: the CPU part of the bound."
    from course_utils.download import decode_image, save_atomically
    with tempfile.TemporaryDirectory() as tmp:
        started = time.perf_counter()
        for i, path in enumerate(photos):
            if i in bad: continue
            save_atomically(decode_image(path.read_bytes(), 400), Path(tmp)/f'{i}.jpg')
        return time.perf_counter() - started


def main(args):
    print(f"machine: {machine()}")
    started = time.perf_counter()
    photos = make_photos(photo_folder(args.n, args.min_px, args.max_px), args.n, args.min_px, args.max_px)
    total_mb = sum(p.stat().st_size for p in photos) / 1e6
    print(f"{len(photos)} photos, {args.min_px}-{args.max_px} px, {total_mb:.0f} MB (ready in {time.perf_counter() - started:.1f} s)")
    bad = bad_indices(args.n, args.bad)
    rounds = []
    with PhotoServer(photos, bad, tuple(args.latency), max_requests=args.n * 2 * args.rounds + 10) as server, \
         tempfile.TemporaryDirectory() as tmp:
        url_file = Path(tmp)/'urls.txt'
        url_file.write_text('\n'.join(server.urls()))
        for round_number in range(args.rounds):
            for kind in 'AB':
                result = one_run(kind, url_file, args.workers, args.timeout)
                result.update(round=round_number + 1, images_per_s=round(result['files'] / result['seconds'], 1))
                rounds.append(result)
                print(f"round {round_number + 1} {kind}: {result['seconds']:.1f} s, {result['files']} files, "
                      f"{result['invalid']} invalid, {result['bytes'] / 1e6:.1f} MB, peak RSS {result['peak_rss_mb']:.0f} MB", flush=True)
        mean_latency = sum(server.delay(i) for i in range(args.n)) / args.n
    report(rounds, args, bad, mean_latency, decode_seconds(photos, bad))


def report(rounds:list[dict], args, bad:dict, mean_latency:float, decode_serial:float):
    a = [r for r in rounds if r['pipeline'] == 'A']
    b = [r for r in rounds if r['pipeline'] == 'B']
    ratios = [ra['seconds'] / rb['seconds'] for ra, rb in zip(a, b)]
    bound = args.n * mean_latency / args.workers + decode_serial / min(args.workers, os.cpu_count() or 1)
    rows = [{'pipeline': 'A fastai' if r['pipeline'] == 'A' else 'B course_utils', 'round': r['round'],
             'wall s': f"{r['seconds']:.1f}", 'images/s': r['images_per_s'], 'files': r['files'],
             'MB on disk': f"{r['bytes'] / 1e6:.1f}", 'invalid left': r['invalid'],
             'peak RSS MB': f"{r['peak_rss_mb']:.0f}"} for r in rounds]
    print()
    print(table(rows, list(rows[0])))
    expected = args.n - len(bad)
    b_median, b_rss, b_invalid = median([r['seconds'] for r in b]), max(r['peak_rss_mb'] for r in b), max(r['invalid'] for r in b)
    print(f"\n{args.n} URLs ({expected} good, {len(bad)} bad), {args.workers} workers each, "
          f"latency {args.latency[0] * 1000:.0f}-{args.latency[1] * 1000:.0f} ms (mean {mean_latency * 1000:.0f} ms)")
    print(f"bound for B: {args.n} x {mean_latency:.3f} s / {args.workers} workers + {decode_serial:.1f} s decoding "
          f"/ {min(args.workers, os.cpu_count() or 1)} cores = {bound:.1f} s; B's median {b_median:.1f} s = {b_median / bound:.2f}x the bound")
    ratio = median(ratios)
    goals = [(f"A/B ratio {ratio:.2f} >= 2", ratio >= 2), (f"B leaves {b_invalid} invalid files (0)", b_invalid == 0),
             (f"B within 2x of the bound ({b_median / bound:.2f}x)", b_median <= 2 * bound),
             (f"B's peak RSS {b_rss:.0f} MB < 500 MB", b_rss < 500)]
    for text, met in goals: print(f"goal {'met   ' if met else 'MISSED'}  {text}")
    summary('download_speedup_A_over_B', f"{ratio:.2f}")


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument('--quick', action='store_true', help='the short CI version')
    p.add_argument('--n', type=int, default=400, help='number of URLs')
    p.add_argument('--min-px', type=int, default=300)
    p.add_argument('--max-px', type=int, default=3000)
    p.add_argument('--latency', type=float, nargs=2, default=[0.05, 0.2], help='delay range per request, seconds')
    p.add_argument('--bad', type=float, default=0.05, help='share of bad responses')
    p.add_argument('--rounds', type=int, default=3, help='A/B pairs, alternating')
    p.add_argument('--workers', type=int, default=8, help='downloads at a time, the same for A and B')
    p.add_argument('--timeout', type=float, default=600, help='seconds one pipeline run may take')
    p.add_argument('--client', choices=['A', 'B'], help=argparse.SUPPRESS)
    p.add_argument('--urls', type=Path, help=argparse.SUPPRESS)
    p.add_argument('--dest', type=Path, help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.quick: args.n, args.max_px, args.latency, args.rounds = 40, 1200, [0.005, 0.02], 3
    return args


if __name__ == '__main__':
    args = parse_args()
    if args.client: client(args.client, args.urls, args.dest, args.workers)
    else: main(args)
