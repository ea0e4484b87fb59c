"""The test network guard (tests/netguard) keeps every Python process started with its environment, Jupyter kernels
included, on this machine: these tests check it refuses the internet, lets loopback through, and logs both."""
import json
import os
import socket
import subprocess
import sys
import textwrap

import nbformat
import pytest

from course_utils.runner import run_notebook
from netguard import GUARD_DIR, guard_environment, read_guard_log

GUARD_MESSAGE = 'blocked by the test network guard'
TEST_NET = '192.0.2.1'   # TEST-NET-1 (RFC 5737): never routed, so even a failed guard can't reach anyone there

# Each snippet sets a key of `results` to 'ok' or to the error it raised; the script prints `results` as JSON.
PRELUDE = '''
import http.server, json, os, socket, threading

class Hello(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        self.send_response(200); self.send_header('Content-Length', '5'); self.end_headers(); self.wfile.write(b'hello')
    def log_message(self, *args): pass

server = http.server.ThreadingHTTPServer(('127.0.0.1', 0), Hello)
threading.Thread(target=server.serve_forever, daemon=True).start()
port = server.server_address[1]
results = {'pid': os.getpid()}

def attempt(name, action):
    try: results[name] = action() or 'ok'
    except Exception as error: results[name] = f'{type(error).__name__}: {error}'
'''

LOOPBACK = '''
import http.client, requests
def fetch_loopback():
    connection = http.client.HTTPConnection('127.0.0.1', port, timeout=5)
    connection.request('GET', '/')
    return connection.getresponse().read().decode()
attempt('loopback', fetch_loopback)
attempt('localhost', lambda: requests.get(f'http://localhost:{port}', timeout=5).text)
attempt('connect_is_builtin', lambda: str(socket.socket.connect is socket._socket.socket.connect))
'''

INTERNET = f'''
import errno, os, tempfile
attempt('connect', lambda: socket.create_connection(('{TEST_NET}', 80), timeout=1))
attempt('connect_ex', lambda: errno.errorcode[socket.socket().connect_ex(('{TEST_NET}', 80))])
attempt('ipv6', lambda: socket.socket(socket.AF_INET6).connect(('2001:db8::1', 80)))
attempt('udp', lambda: socket.socket(socket.AF_INET, socket.SOCK_DGRAM).sendto(b'x', ('{TEST_NET}', 53)))
attempt('getaddrinfo', lambda: socket.getaddrinfo('example.com', 443))
attempt('gethostbyname', lambda: socket.gethostbyname('example.com'))
attempt('requests', lambda: requests.get('http://example.com', timeout=2))

def unix_round_trip():
    path = os.path.join(tempfile.mkdtemp(), 'sock')
    listener = socket.socket(socket.AF_UNIX); listener.bind(path); listener.listen()
    socket.socket(socket.AF_UNIX).connect(path)
attempt('unix', unix_round_trip)
'''


def run_python(code: str, **env) -> subprocess.CompletedProcess:
    "Run `code` in a fresh interpreter with `env` added to ours, less any proxy settings (loopback must be direct)."
    base = {k: v for k, v in os.environ.items() if not k.lower().endswith('_proxy')}
    return subprocess.run([sys.executable, '-c', code], env={**base, **env}, capture_output=True, text=True, timeout=60)


def run_snippets(*snippets: str, **env) -> tuple[int, dict]:
    "Run the snippets after PRELUDE in a fresh interpreter; its process id and the `results` they recorded."
    done = run_python(PRELUDE + ''.join(snippets) + '\nprint(json.dumps(results))', **env)
    assert done.returncode == 0, done.stderr
    results = json.loads(done.stdout.splitlines()[-1])
    return results.pop('pid'), results


@pytest.fixture(scope='module')
def guarded_run(tmp_path_factory):
    "One guarded interpreter's results for every snippet, its id, and the guard's log."
    log = tmp_path_factory.mktemp('netguard')/'guard.log'
    pid, results = run_snippets(LOOPBACK, INTERNET, **guard_environment(log))
    return pid, results, log


def test_guard_refuses_connections_beyond_this_machine(guarded_run):
    _, results, _ = guarded_run
    for name in ('connect', 'ipv6', 'udp'):
        assert results[name].startswith('OSError') and GUARD_MESSAGE in results[name], (name, results[name])
    assert results['connect_ex'] == 'ENETUNREACH'


def test_guard_refuses_name_lookups(guarded_run):
    _, results, _ = guarded_run
    for name in ('getaddrinfo', 'gethostbyname'):
        assert GUARD_MESSAGE in results[name] and 'example.com' in results[name], (name, results[name])
    assert results['requests'].startswith('ConnectionError') and GUARD_MESSAGE in results['requests']


def test_guard_lets_loopback_and_unix_sockets_through(guarded_run):
    _, results, _ = guarded_run
    assert results['loopback'] == results['localhost'] == 'hello'
    assert results['unix'] == 'ok'
    assert results['connect_is_builtin'] == 'False'


def test_guard_logs_its_process_and_each_refusal(guarded_run):
    pid, _, log = guarded_run
    armed, blocked = read_guard_log(log)
    assert armed == {pid}
    assert blocked == [f'{TEST_NET}:80 (connect)', f'{TEST_NET}:80 (connect_ex)', '[2001:db8::1]:80 (connect)',
                       f'{TEST_NET}:53 (sendto)', 'example.com (getaddrinfo)', 'example.com (gethostbyname)',
                       'example.com (getaddrinfo)']
    assert f'armed {pid} -c' in log.read_text().splitlines()


def test_guard_is_off_without_its_log_variable(tmp_path):
    environment = guard_environment(tmp_path/'guard.log')
    del environment['COURSE_NET_GUARD_LOG']
    _, results = run_snippets(LOOPBACK, **environment)
    assert results == {'loopback': 'hello', 'localhost': 'hello', 'connect_is_builtin': 'True'}
    assert not (tmp_path/'guard.log').exists()


def test_guard_environment_prepends_its_folder(monkeypatch, tmp_path):
    log = tmp_path/'a.log'
    monkeypatch.delenv('PYTHONPATH', raising=False)
    assert guard_environment(log) == {'PYTHONPATH': str(GUARD_DIR), 'COURSE_NET_GUARD_LOG': str(log)}
    monkeypatch.setenv('PYTHONPATH', '/elsewhere')
    assert guard_environment(log)['PYTHONPATH'] == f'{GUARD_DIR}{os.pathsep}/elsewhere'


def test_guard_still_runs_the_sitecustomize_it_hides(monkeypatch, tmp_path):
    hidden = tmp_path/'hidden'
    hidden.mkdir()
    (hidden/'sitecustomize.py').write_text("print('hidden sitecustomize ran')\n")
    monkeypatch.setenv('PYTHONPATH', str(hidden))
    log = tmp_path/'guard.log'
    done = run_python('import os, sitecustomize; print(sitecustomize.__file__, os.getpid(), sep="\\n")',
                      **guard_environment(log))
    ran, guard, pid = done.stdout.splitlines()
    assert (ran, guard) == ('hidden sitecustomize ran', str(GUARD_DIR/'sitecustomize.py')), done.stderr
    assert read_guard_log(log)[0] == {int(pid)}


def write_notebook(path, source: str):
    "A one-cell python3 notebook at `path`."
    notebook = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(source)])
    notebook.metadata.kernelspec = {'name': 'python3', 'display_name': 'Python 3', 'language': 'python'}
    notebook.metadata.language_info = {'name': 'python'}
    nbformat.write(notebook, path)


def cell_text(executed) -> str:
    "Everything the executed notebook's cells printed."
    cells = nbformat.read(executed, as_version=4).cells
    return ''.join(output.get('text', '') for cell in cells for output in cell.get('outputs', []))


def test_guard_arms_a_real_jupyter_kernel(monkeypatch, tmp_path):
    log = tmp_path/'guard.log'
    for name, value in guard_environment(log).items(): monkeypatch.setenv(name, value)
    notebook = tmp_path/'reach_out.ipynb'
    write_notebook(notebook, textwrap.dedent(f'''\
        import socket
        try:
            socket.create_connection(('{TEST_NET}', 80), timeout=1)
            print('connected')
        except OSError as error:
            print(f'refused: {{error}}')'''))
    result = run_notebook(notebook, out_dir=tmp_path/'out')
    armed, blocked = read_guard_log(log)
    assert armed and os.getpid() not in armed
    lines = log.read_text().splitlines()
    assert any(line.startswith('armed') and line.endswith(' ipykernel_launcher') for line in lines)
    assert blocked == [f'{TEST_NET}:80 (connect)'], 'the kernel tried to reach something else too'
    assert f'refused: [Errno 101] {GUARD_MESSAGE}: {TEST_NET}:80 (connect)' in cell_text(result.executed)
