"""Real services for the production tests, started and stopped by fixtures: an
S3-compatible server on loopback (moto's server mode) and a Spark standalone cluster
(master and worker from the installed PySpark's ``sbin/spark-daemon.sh``)."""

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pyspark

SPARK_HOME = Path(pyspark.__file__).parent
VENV_BIN = Path(sys.executable).parent
AWS_VARS = ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_ENDPOINT_URL",
            "AWS_ENDPOINT_URL_S3", "AWS_PROFILE", "AWS_DEFAULT_REGION", "AWS_REGION")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for_port(port: int, timeout: float = 30, host: str = "127.0.0.1") -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with socket.socket() as s:
            if s.connect_ex((host, port)) == 0:
                return
        time.sleep(0.1)
    raise TimeoutError(f"nothing listens on {host}:{port} after {timeout} s")


class MotoServer:
    """``moto_server`` on a free loopback port; S3 credentials are fake but checked for leaks."""

    def __init__(self):
        self.port = free_port()
        self.endpoint = f"http://127.0.0.1:{self.port}"
        self.proc = subprocess.Popen([str(VENV_BIN / "moto_server"), "-H", "127.0.0.1", "-p", str(self.port)],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_for_port(self.port)

    def env(self, key: str, secret: str) -> dict:
        return {"AWS_ACCESS_KEY_ID": key, "AWS_SECRET_ACCESS_KEY": secret, "AWS_ENDPOINT_URL": self.endpoint,
                "AWS_DEFAULT_REGION": "us-east-1"}

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(timeout=10)


class SparkCluster:
    """A standalone master and one 2-core worker on 127.0.0.1, started without any AWS
    variables, so executors can reach S3 only with what a job ships to them."""

    def __init__(self, folder: Path):
        self.folder = folder
        self.port, ui, worker_ui = free_port(), free_port(), free_port()
        self.url = f"spark://127.0.0.1:{self.port}"
        self.env = {k: v for k, v in os.environ.items() if k not in AWS_VARS}
        self.env.update({"SPARK_HOME": str(SPARK_HOME), "SPARK_LOG_DIR": str(folder / "logs"),
                         "SPARK_PID_DIR": str(folder / "pids"), "SPARK_WORKER_DIR": str(folder / "work"),
                         "SPARK_LOCAL_IP": "127.0.0.1", "SPARK_IDENT_STRING": f"curation{self.port}"})
        self._daemon("start", "org.apache.spark.deploy.master.Master", "--host", "127.0.0.1", "--port",
                     str(self.port), "--webui-port", str(ui))
        wait_for_port(self.port)
        self._daemon("start", "org.apache.spark.deploy.worker.Worker", "--cores", "2", "--memory", "2g", "--host",
                     "127.0.0.1", "--webui-port", str(worker_ui), self.url)
        self._wait_registered()

    def _daemon(self, action: str, cls: str, *args: str) -> None:
        subprocess.run([str(SPARK_HOME / "sbin" / "spark-daemon.sh"), action, cls, "1", *args], env=self.env,
                       check=True, capture_output=True)

    def _wait_registered(self, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            logs = "".join(p.read_text(errors="replace") for p in (self.folder / "logs").glob("*Worker*.out"))
            if "Successfully registered with master" in logs:
                return
            time.sleep(0.2)
        raise TimeoutError("the Spark worker did not register with the master")

    def logs_text(self) -> str:
        return "".join(p.read_text(errors="replace") for p in self.folder.rglob("*") if p.is_file()
                       and p.suffix not in (".jar", ".zip", ".parquet", ".idx"))

    def stop(self) -> None:
        for cls in ("org.apache.spark.deploy.worker.Worker", "org.apache.spark.deploy.master.Master"):
            subprocess.run([str(SPARK_HOME / "sbin" / "spark-daemon.sh"), "stop", cls, "1"], env=self.env,
                           capture_output=True)
