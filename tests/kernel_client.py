"""Run code in a notebook's kernel through a real jupyter server, as JupyterLab does:
a session for a notebook path (POST api/sessions), then execute requests on the
kernel's websocket. The kernel is the server's child, with JPY_SESSION_NAME set."""

import json
import time
import uuid

import psutil
import websocket


class KernelError(RuntimeError):
    pass


class NotebookKernel:
    def __init__(self, server, path):
        r = server.session.post(
            server.url + "api/sessions",
            json={"path": path, "type": "notebook", "name": path.rsplit("/", 1)[-1], "kernel": {"name": "python3"}},
            timeout=60,
        )
        assert r.status_code == 201, r.text
        self.session_id, self.id = r.json()["id"], r.json()["kernel"]["id"]
        self.server = server
        self.ws = websocket.create_connection(
            f"ws://127.0.0.1:{server.port}{server.url.split(str(server.port), 1)[1]}api/kernels/{self.id}/channels",
            header=[f"Authorization: token {server.token}"], timeout=300,
        )
        self.client_session = uuid.uuid4().hex

    @property
    def pid(self):
        """The kernel process: the server's child whose command names this kernel's connection file."""
        for p in psutil.Process(self.server.proc.pid).children(recursive=True):
            try:
                if f"kernel-{self.id}" in " ".join(p.cmdline()):
                    return p.pid
            except psutil.NoSuchProcess:
                pass
        raise LookupError(f"no process for kernel {self.id}")

    def run(self, code, timeout=300):
        """stdout and results of `code`; KernelError with the traceback if it raises."""
        msg_id = uuid.uuid4().hex
        self.ws.send(json.dumps({
            "header": {"msg_id": msg_id, "username": "test", "session": self.client_session,
                       "msg_type": "execute_request", "version": "5.3"},
            "parent_header": {}, "metadata": {}, "channel": "shell", "buffers": [],
            "content": {"code": code, "silent": False, "store_history": False, "user_expressions": {},
                        "allow_stdin": False, "stop_on_error": True},
        }))
        out, error, replied, idle = [], None, False, False
        deadline = time.monotonic() + timeout
        while not (replied and idle):
            if time.monotonic() > deadline:
                raise TimeoutError(f"no reply in {timeout} s to {code!r}")
            msg = json.loads(self.ws.recv())
            if msg.get("parent_header", {}).get("msg_id") != msg_id:
                continue
            kind, content = msg["msg_type"], msg["content"]
            if kind == "stream":
                out.append(content["text"])
            elif kind in ("execute_result", "display_data"):
                out.append(content["data"].get("text/plain", "") + "\n")
            elif kind == "error":
                error = "\n".join(content["traceback"])
            elif kind == "execute_reply":
                replied = True
            elif kind == "status" and content["execution_state"] == "idle":
                idle = True
        if error:
            raise KernelError(error)
        return "".join(out)

    def close(self):
        self.ws.close()
        self.server.session.delete(self.server.url + f"api/sessions/{self.session_id}", timeout=60)
