"""Keep one TLS connection's end from breaking the others (CPython gh-148594).

CPython's ssl module does not empty OpenSSL's per-thread error queue before it reads or
writes, although OpenSSL requires it for SSL_get_error(). When a peer closes a TLS
connection without close_notify (a worker that dies or ends, a client that goes away),
reading it leaves "unexpected eof while reading" on the queue of that thread. Since
gh-127257 (Python 3.12.9, 3.13.2), the next read that would merely block on ANY other
connection of the thread then raises BrokenPipeError: with Dask, the scheduler's and the
clients' healthy comms die one after the other once a worker has come and gone
(CommClosedError in rpc `identity`, e.g. Debian trixie's Python 3.13.5 with OpenSSL 3.5).

Clearing the queue before each TLS read, write and handshake, as OpenSSL documents, is the
fix. It is installed on import, in every process of a cluster: this package's own, local
workers (a preload), and HTCondor worker jobs, which get this very file with their TLS
files and preload it, so it must not import anything of coffea_casa_lab.
"""

import ctypes
import functools
import logging
import ssl
import sys

logger = logging.getLogger("coffea_casa")
_METHODS = {ssl.SSLSocket: ("read", "write", "send", "do_handshake", "unwrap"),
            ssl.SSLObject: ("read", "write", "do_handshake", "unwrap")}


def _err_clear_error():
    """OpenSSL's ERR_clear_error from the libcrypto that Python's _ssl uses, or None."""
    import _ssl

    for library in (getattr(_ssl, "__file__", None), None):  # None: _ssl built into the interpreter
        try:
            function = ctypes.CDLL(library).ERR_clear_error
        except (OSError, AttributeError):
            continue
        function.argtypes, function.restype = [], None
        return function
    return None


def install():
    """Clear OpenSSL's error queue before every TLS read, write and handshake; True if done now."""
    if getattr(ssl, "_coffea_casa_clears_errors", False) or sys.version_info < (3, 12):
        return False  # done already; or a Python without gh-127257, which stale errors do not break
    clear = _err_clear_error()
    if clear is None:
        logger.debug("OpenSSL's ERR_clear_error not found: stale TLS errors are not cleared")
        return False
    for cls, names in _METHODS.items():
        for name in names:
            setattr(cls, name, _clearing(getattr(cls, name), clear))
    ssl._coffea_casa_clears_errors = True
    return True


def _clearing(method, clear):
    @functools.wraps(method)
    def cleared_first(self, *args, **kwargs):
        clear()
        return method(self, *args, **kwargs)

    return cleared_first


install()
