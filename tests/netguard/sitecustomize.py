"""The test network guard: Python imports `sitecustomize` at startup, so with this folder first on PYTHONPATH and
COURSE_NET_GUARD_LOG set, every Python process (Jupyter kernels included) refuses to connect to, or look up, anything
but this machine (127.0.0.0/8, ::1, 'localhost'), and appends what it refused to that log file.

Without COURSE_NET_GUARD_LOG it patches nothing. Either way it imports the `sitecustomize` it hides, if there is one."""
import os
import sys

LOG_ENV = 'COURSE_NET_GUARD_LOG'
MESSAGE = 'blocked by the test network guard'
_log_path = None
hidden_sitecustomize = None   # the module this file hides on sys.path, once run


def _log(line: str):
    "Append `line` to the guard's log in one unbuffered write, so lines from several processes never interleave."
    try:
        fd = os.open(_log_path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        try: os.write(fd, f'{line}\n'.encode('utf-8', 'backslashreplace'))
        finally: os.close(fd)
    except OSError as error:  # a log we can't write must not stop the process, nor the guard
        print(f'network guard: cannot write {_log_path}: {error}', file=sys.stderr)


def _refuse(what: str):
    "Log the attempt, then fail the way a machine with no route to that network would."
    import errno
    _log(f'blocked {os.getpid()} {what}')
    raise OSError(errno.ENETUNREACH, f'{MESSAGE}: {what}')


def _host_text(host) -> str:
    "`host` as text, whether given as str or bytes."
    return host.decode('ascii', 'backslashreplace') if isinstance(host, bytes) else str(host)


def _ip(host):
    "`host` as an IP address (IPv4-mapped IPv6 ones as IPv4), or None when it is a name."
    import ipaddress
    try: ip = ipaddress.ip_address(_host_text(host))
    except ValueError: return None
    return getattr(ip, 'ipv4_mapped', None) or ip


def _is_loopback(host) -> bool:
    "Whether `host` is this machine: 'localhost' or a loopback address."
    if _host_text(host).lower() == 'localhost': return True
    ip = _ip(host)
    return ip is not None and ip.is_loopback


def _describe(address) -> str:
    "A socket address as host:port ([host]:port for IPv6)."
    if not isinstance(address, tuple) or len(address) < 2: return _host_text(address)
    host = _host_text(address[0])
    return f'[{host}]:{address[1]}' if ':' in host else f'{host}:{address[1]}'


def _check_destination(sock, address, call: str):
    "Refuse `address` when `sock` is an internet socket and the address is not this machine."
    import socket
    if sock.family not in (socket.AF_INET, socket.AF_INET6): return  # AF_UNIX and the like never leave the machine
    host = address[0] if isinstance(address, tuple) and address else address
    if not _is_loopback(host): _refuse(f'{_describe(address)} ({call})')


def _guard_sockets(socket):
    "Patch socket.socket's connect, connect_ex and sendto (UDP, as DNS clients use) to check the destination first."
    cls = socket.socket
    real_connect, real_connect_ex, real_sendto = cls.connect, cls.connect_ex, cls.sendto

    def connect(sock, address):
        _check_destination(sock, address, 'connect')
        return real_connect(sock, address)

    def connect_ex(sock, address):
        try: _check_destination(sock, address, 'connect_ex')
        except OSError as refused: return refused.errno  # connect_ex reports failures as an errno, not an exception
        return real_connect_ex(sock, address)

    def sendto(sock, data, *flags_and_address):
        _check_destination(sock, flags_and_address[-1] if flags_and_address else None, 'sendto')
        return real_sendto(sock, data, *flags_and_address)

    for name, guarded in (('connect', connect), ('connect_ex', connect_ex), ('sendto', sendto)):
        guarded.__name__, guarded.__doc__, guarded.__wrapped__ = name, getattr(cls, name).__doc__, getattr(cls, name)
        setattr(cls, name, guarded)


def _guarded_lookup(real, name: str, literal_ok: bool):
    "`real`, a name lookup, refusing names other than this machine's since resolving them asks a DNS server."
    def lookup(host, *args, **kwargs):
        allowed = host in (None, '') or _is_loopback(host) or (literal_ok and _ip(host) is not None)
        if not allowed: _refuse(f'{_host_text(host)} ({name})')
        return real(host, *args, **kwargs)
    lookup.__name__, lookup.__doc__, lookup.__wrapped__ = name, real.__doc__, real
    return lookup


def _guard_lookups(socket):
    "Patch the socket module's name lookups; IP literals pass forward lookups, which resolve them without a network."
    for name, literal_ok in (('getaddrinfo', True), ('gethostbyname', True), ('gethostbyname_ex', True),
                             ('gethostbyaddr', False)):
        setattr(socket, name, _guarded_lookup(getattr(socket, name), name, literal_ok))


def _program() -> str:
    "The script's file name, or the module's for `python -m` (sys.argv[0] is just '-m' while site runs)."
    name = os.path.basename(sys.argv[0]) if sys.argv and sys.argv[0] else 'python'
    orig_argv = getattr(sys, 'orig_argv', [])
    if name != '-m' or len(orig_argv) < len(sys.argv): return name
    module = orig_argv[-len(sys.argv)]  # orig_argv ends with ['-m', module, *args] or ['-mmodule', *args]
    return module[2:] if module.startswith('-m') else module


def _arm(log_path: str):
    "Patch the socket module once in this process, and log that the guard is armed."
    global _log_path
    import socket
    if getattr(socket, '_course_net_guard', False): return
    _log_path = log_path
    _guard_sockets(socket)
    _guard_lookups(socket)
    socket._course_net_guard = True
    _log(f'armed {os.getpid()} {_program()}')


def _import_hidden_sitecustomize():
    "Run and return the `sitecustomize` further along sys.path (Debian ships one), which this file would hide."
    import importlib.machinery, importlib.util
    here = os.path.realpath(os.path.dirname(os.path.abspath(__file__)))
    others = [p for p in sys.path if isinstance(p, str) and os.path.realpath(p or os.curdir) != here]
    spec = importlib.machinery.PathFinder.find_spec('sitecustomize', others)
    if spec is None or spec.loader is None: return None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _main():
    "Arm the guard when asked to, then run the hidden sitecustomize (after arming, so it is guarded too)."
    global hidden_sitecustomize
    if os.environ.get(LOG_ENV): _arm(os.environ[LOG_ENV])
    try: hidden_sitecustomize = _import_hidden_sitecustomize()
    except Exception as error:  # as site.py does for its own sitecustomize: say so, and let Python start
        print(f'Error in the sitecustomize hidden by {__file__}: {type(error).__name__}: {error}', file=sys.stderr)


_main()
