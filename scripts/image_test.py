"""`make image-test`: build the Dockerfile into an image, run it, wait for /readyz, analyze the seeds, stop it.

Standard library only, so it runs before any virtual environment exists. Prints each step and a last line
``image-test: PASS`` or ``image-test: FAIL: <why>`` (exit status 0 or 1).

Where no registry can be reached, the base image is built from Debian packages: ``mmdebstrap`` (bookworm,
python3.11 and its venv module) writes a root filesystem tarball that ``podman import`` turns into a local
image, passed to the Dockerfile as ``BASE_IMAGE``. ``--base python:3.11-slim`` uses the registry instead.
The torch CPU wheel comes from ``--torch-wheels DIR`` (bind-mounted into the build as /wheels: the build
container sees only PyPI, whose Linux torch pulls CUDA) when given or found in pip's ``find-links``;
otherwise the Dockerfile's default index (download.pytorch.org) is used.

Build and run go through buildah/podman with vfs storage and chroot isolation, which work as root inside
an unprivileged VM or container. A runtime that may not set resource limits there (``podman run`` fails
with "setrlimit ... OCI permission denied") is replaced by ``buildah run`` on the same image, running the
image's own CMD, user and environment; the step says which one ran.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SEEDS = ROOT / "tests" / "fixtures"
EXPECTED = {"000": "neutral", "001": "neutral", "002": "neutral", "003": "neutral", "004": "editorial"}
LOCAL_BASE = "localhost/presslens-base:bookworm-py311"
BASE_PACKAGES = "python3.11,python3.11-venv,python3-venv,ca-certificates,passwd"
MIRRORS = ("deb http://deb.debian.org/debian bookworm main",
           "deb http://deb.debian.org/debian bookworm-updates main",
           "deb http://deb.debian.org/debian-security bookworm-security main")


class Failure(Exception):
    pass


def step(msg: str) -> None:
    print(f"image-test: {msg}", flush=True)


def sh(cmd: list[str], **kw) -> subprocess.CompletedProcess:
    step("$ " + " ".join(cmd))
    return subprocess.run(cmd, **kw)


def containers(tool: str, *args: str) -> list[str]:
    return [tool, "--storage-driver", "vfs", *args]


def image_exists(name: str) -> bool:
    return subprocess.run(containers("podman", "image", "exists", name)).returncode == 0


def local_base(cache: Path, rebuild: bool) -> str:
    """A bookworm + python3.11 image made from Debian packages, built once and kept in local storage."""
    if image_exists(LOCAL_BASE) and not rebuild:
        step(f"base image {LOCAL_BASE} already in local storage")
        return LOCAL_BASE
    if not shutil.which("mmdebstrap"):
        raise Failure("building the local base needs mmdebstrap (apt-get install mmdebstrap)")
    cache.mkdir(parents=True, exist_ok=True)
    tarball = cache / "bookworm-py311.tar"
    if not tarball.is_file() or rebuild:
        tmp = tarball.with_suffix(".tar.part")
        if sh(["mmdebstrap", "--variant=minbase", f"--include={BASE_PACKAGES}", "--format=tar",
               "bookworm", str(tmp), *MIRRORS]).returncode != 0:
            raise Failure("mmdebstrap failed")
        tmp.replace(tarball)
    if sh(containers("podman", "import", "--change", 'CMD ["/bin/bash"]', str(tarball), LOCAL_BASE),
          stdout=subprocess.DEVNULL).returncode != 0:
        raise Failure("podman import of the root filesystem failed")
    return LOCAL_BASE


def configured_torch_wheels() -> str | None:
    """A directory in pip's find-links that holds the torch 2.13.0 CPU wheel, if there is one."""
    dirs = os.environ.get("PIP_FIND_LINKS", "").split()
    try:
        out = subprocess.run([sys.executable, "-m", "pip", "config", "list"], capture_output=True, text=True).stdout
    except OSError:
        out = ""
    for line in out.splitlines():
        if ".find-links=" in line:
            dirs += line.split("=", 1)[1].strip().strip("'\"").split()
    for d in dirs:
        if list(Path(d).glob("torch-2.13.0+cpu-*.whl")):
            return d
    return None


def configured_ca_bundle() -> str | None:
    """The CA bundle this machine's pip trusts (PIP_CERT), when it is not the stock one: a network whose
    TLS is re-signed by a local proxy needs it inside the build too."""
    cert = os.environ.get("PIP_CERT") or os.environ.get("REQUESTS_CA_BUNDLE")
    return cert if cert and Path(cert).is_file() else None


def build(image: str, base: str | None, wheels: str | None, ca_bundle: str | None) -> None:
    # docker format: the OCI image format has no HEALTHCHECK
    cmd = containers("buildah", "bud", "--format", "docker", "--isolation", "chroot", "--network", "host",
                     "--layers=false", "-t", image)
    if base:
        cmd += ["--build-arg", f"BASE_IMAGE={base}"]
    if wheels:
        cmd += ["--build-arg", "TORCH_WHEELS=/wheels", "-v", f"{Path(wheels).resolve()}:/wheels:ro"]
    if ca_bundle:  # mounted over the image's bundle for the RUN steps only; the image keeps Debian's own
        cmd += ["-v", f"{Path(ca_bundle).resolve()}:/etc/ssl/certs/ca-certificates.crt:ro"]
    t0 = time.monotonic()
    if sh([*cmd, "-f", str(ROOT / "Dockerfile"), str(ROOT)]).returncode != 0:
        raise Failure("the image build failed")
    step(f"built {image} in {time.monotonic() - t0:.0f} s")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Running:
    """The image's CMD running on the host network, through podman run or, failing that, buildah run."""

    def __init__(self, image: str, port: int, log: Path):
        self.image, self.port, self.log = image, port, log
        self.podman_id: str | None = None
        self.buildah_ctr: str | None = None
        self.proc: subprocess.Popen | None = None
        inspected = json.loads(subprocess.run(containers("buildah", "inspect", "--type", "image", image),
                                              capture_output=True, text=True, check=True).stdout)
        self.config = (inspected.get("Docker") or {}).get("config") or {}  # the Docker schema keeps HEALTHCHECK

    def start(self) -> None:
        r = sh(containers("podman", "run", "-d", "--rm", "--network", "host", "-e", f"PRESSLENS_PORT={self.port}",
                          self.image), capture_output=True, text=True)  # --rm: a start that fails leaves nothing
        if r.returncode == 0:
            self.podman_id = r.stdout.strip()
            step(f"running under podman run ({self.podman_id[:12]})")
            return
        step(f"podman run refused: {(r.stderr.strip().splitlines() or ['?'])[-1]}; using buildah run instead")
        self.buildah_ctr = subprocess.run(containers("buildah", "from", self.image), capture_output=True,
                                          text=True, check=True).stdout.strip()
        cmd = [*(self.config.get("Entrypoint") or []), *(self.config.get("Cmd") or [])]
        with self.log.open("wb") as out:
            self.proc = subprocess.Popen(containers(
                "buildah", "run", "--isolation", "chroot", "--network", "host", "--user",
                self.config.get("User") or "0", self.buildah_ctr, "--", "env", f"PRESSLENS_PORT={self.port}", *cmd),
                stdout=out, stderr=subprocess.STDOUT)
        step(f"running the image's CMD {cmd} under buildah run (container {self.buildah_ctr}; output in {self.log})")

    def alive(self) -> bool:
        if self.proc is not None:
            return self.proc.poll() is None
        r = subprocess.run(containers("podman", "inspect", "--format", "{{.State.Running}}", self.podman_id or ""),
                           capture_output=True, text=True)
        return r.stdout.strip() == "true"

    def healthcheck(self) -> int:
        """Run the image's HEALTHCHECK command inside the running container; its exit status."""
        if self.podman_id:
            return sh(containers("podman", "healthcheck", "run", self.podman_id)).returncode
        test = (self.config.get("Healthcheck") or {}).get("Test") or []
        if not test:
            raise Failure("the image has no HEALTHCHECK")
        argv = ["sh", "-c", test[1]] if test[0] == "CMD-SHELL" else test[1:]
        return sh(containers("buildah", "run", "--isolation", "chroot", "--network", "host", "--user",
                             self.config.get("User") or "0", self.buildah_ctr or "", "--", "env",
                             f"PRESSLENS_PORT={self.port}", *argv)).returncode

    def tail(self, n: int = 15) -> str:
        if self.podman_id:
            return subprocess.run(containers("podman", "logs", "--tail", str(n), self.podman_id),
                                  capture_output=True, text=True).stdout
        return "\n".join(self.log.read_text(errors="replace").splitlines()[-n:]) if self.log.is_file() else ""

    def stop(self) -> None:
        if self.podman_id:
            sh(containers("podman", "stop", "-t", "30", self.podman_id), stdout=subprocess.DEVNULL)
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()  # buildah forwards SIGTERM: uvicorn shuts down gracefully
            try:
                self.proc.wait(40)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if self.buildah_ctr:
            subprocess.run(containers("buildah", "rm", self.buildah_ctr), stdout=subprocess.DEVNULL)


def wait_ready(run: Running, timeout: float) -> float:
    t0 = time.monotonic()
    url = f"http://127.0.0.1:{run.port}/readyz"
    while time.monotonic() - t0 < timeout:
        if not run.alive():
            raise Failure("the container stopped before /readyz answered 200")
        try:
            with urllib.request.urlopen(url, timeout=2) as r:
                if r.status == 200:
                    return time.monotonic() - t0
        except (urllib.error.URLError, OSError):
            pass
        time.sleep(0.5)
    raise Failure(f"/readyz not 200 after {timeout:.0f} s")


def check_seeds(port: int) -> None:
    articles = [{"id": p.stem[:3], "text": p.read_text(encoding="utf-8")} for p in sorted(SEEDS.glob("00[0-4]_*.txt"))]
    if len(articles) != len(EXPECTED):
        raise Failure(f"expected 5 seed files in {SEEDS}, found {len(articles)}")
    req = urllib.request.Request(f"http://127.0.0.1:{port}/v1/analyze", data=json.dumps({"articles": articles}).encode(),
                                 headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=120) as r:
        body = json.loads(r.read())
    wrong = []
    for res in body["results"]:
        want = EXPECTED[res["id"]]
        step(f"seed {res['id']}: {res['label']} (editorial probability {res['editorial_probability']:.4f}; "
             f"expected {want}) model {body.get('model')}")
        if res["label"] != want:
            wrong.append(res["id"])
    if wrong:
        raise Failure(f"seeds labelled wrongly: {', '.join(wrong)}")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--image", default="localhost/presslens:test")
    ap.add_argument("--base", default="local",
                    help="base image: 'local' (built from Debian packages) or a registry image such as python:3.11-slim")
    ap.add_argument("--rebuild-base", action="store_true", help="rebuild the local base even if it exists")
    ap.add_argument("--cache", default=str(Path.home() / ".cache" / "presslens-image"),
                    help="where the Debian root filesystem tarball is kept (never inside the repository)")
    ap.add_argument("--torch-wheels", default=None, help="directory with torch-2.13.0+cpu-*.whl (default: pip's find-links)")
    ap.add_argument("--ca-bundle", default=None, help="CA bundle for the build's downloads (default: $PIP_CERT)")
    ap.add_argument("--no-build", action="store_true", help="test an image built before")
    ap.add_argument("--ready-timeout", type=float, default=300)
    args = ap.parse_args(argv)
    for tool in ("podman", "buildah"):
        if not shutil.which(tool):
            step(f"FAIL: needs {tool} (apt-get install podman buildah)")
            return 1
    run = None
    try:
        if not args.no_build:
            base = local_base(Path(args.cache), args.rebuild_base) if args.base == "local" else args.base
            wheels = args.torch_wheels or configured_torch_wheels()
            ca = args.ca_bundle or configured_ca_bundle()
            step(f"base image {base}; torch wheel from {wheels or 'the Dockerfile default index'}; "
                 f"CA bundle for the build {ca or '(the base image own)'}")
            build(args.image, base, wheels, ca)
        Path(args.cache).mkdir(parents=True, exist_ok=True)
        run = Running(args.image, free_port(), Path(args.cache) / "container.log")
        step(f"image user {run.config.get('User')!r}, cmd {run.config.get('Cmd')}, "
             f"healthcheck {bool(run.config.get('Healthcheck'))}")
        if run.config.get("User") in (None, "", "root", "0"):
            raise Failure("the image runs as root")
        run.start()
        step(f"/readyz answered 200 after {wait_ready(run, args.ready_timeout):.1f} s")
        check_seeds(run.port)
        if run.healthcheck() != 0:
            raise Failure("the image's HEALTHCHECK failed on a ready server")
        step("HEALTHCHECK passed")
    except (Failure, subprocess.CalledProcessError, urllib.error.URLError, OSError) as exc:
        if run is not None:
            step("the container's last output:\n" + run.tail())
        step(f"FAIL: {exc}")
        return 1
    finally:
        if run is not None:
            run.stop()
            step("container stopped")
    step("PASS")
    return 0


if __name__ == "__main__":
    sys.exit(main())
