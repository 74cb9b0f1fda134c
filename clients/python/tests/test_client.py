"""The client against a real server (conftest.py), and its retry and verification rules against fakes."""

from __future__ import annotations

import hashlib
import http.client
import http.server
import json
import shutil
import threading
from pathlib import Path
from typing import Any, Iterator

import numpy as np
import pytest
from conftest import Server, best_rank, make_adapter, relative_error
from safetensors.numpy import load_file

from lora_squeeze import (CLISqueezer, Client, IntegrityError, LoraSqueezeError, ProblemError, ServiceSqueezer)

TOL = 1e-5  # relative Frobenius error of a float32 squeeze against a float64 SVD


class RecordingClient(Client):
    """Records every request's headers and the status it got."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.exchanges: list[tuple[str, str, dict[str, str], int]] = []

    def _exchange(self, connection: http.client.HTTPConnection, method: str, path: str, headers: Any,
                  json_body: Any, body: Any) -> http.client.HTTPResponse:
        response = super()._exchange(connection, method, path, headers, json_body, body)
        self.exchanges.append((method, path, dict(headers), response.status))
        return response


@pytest.fixture()
def client(server: Server) -> Client:
    return Client(server.url, server.token)


def test_upload_a_directory_twice(client: Client, tmp_path: Path) -> None:
    make_adapter(tmp_path / "a", seed=1)
    first = client.upload(tmp_path / "a", name="twice")
    again = client.upload(tmp_path / "a", name="twice-2")
    assert first.created is True and again.created is False
    assert first.digest == again.digest and len(first.digest) == 64
    assert set(client.adapter("twice").names) == {"twice", "twice-2"}
    assert first.format == "peft" and first.base_model == "tiny/base"


def test_upload_a_model_object_saves_it_first(client: Client, tmp_path: Path) -> None:
    make_adapter(tmp_path / "a", seed=2)

    class Saved:  # what PeftModel.save_pretrained does for the default adapter
        def save_pretrained(self, directory: str, selected_adapters: list[str]) -> None:
            assert selected_adapters == ["default"]
            shutil.copytree(tmp_path / "a", directory, dirs_exist_ok=True)

    assert client.upload(Saved(), name="from-model").digest == client.upload(tmp_path / "a").digest


def test_an_incomplete_directory_is_refused_before_any_request(server: Server, tmp_path: Path) -> None:
    (tmp_path / "d").mkdir()
    (tmp_path / "d" / "adapter_model.bin").write_bytes(b"pickle")
    recording = RecordingClient(server.url, server.token)
    with pytest.raises(LoraSqueezeError, match="adapter_config.json or adapter_model.safetensors.*safe_serialization"):
        recording.upload(tmp_path / "d")
    with pytest.raises(LoraSqueezeError, match="no such file"):
        recording.upload(tmp_path / "absent")
    assert recording.exchanges == []


def test_a_refused_upload_raises_the_problem(client: Client, tmp_path: Path) -> None:
    make_adapter(tmp_path / "a", seed=3)
    (tmp_path / "a" / "adapter_model.safetensors").write_bytes(b"\x08\x00\x00\x00\x00\x00\x00\x00{}garbage")
    with pytest.raises(ProblemError) as caught:
        client.upload(tmp_path / "a", name="broken")
    error = caught.value
    assert error.status == 422 and error.type.startswith("/problems/") and error.detail
    assert error.request_id and error.request_id in str(error)
    with pytest.raises(ProblemError) as missing:
        client.adapter("broken")
    assert missing.value.status == 404 and missing.value.type == "/problems/not-found"


def test_a_wrong_token_is_refused(server: Server) -> None:
    with pytest.raises(ProblemError) as caught:
        Client(server.url, "lsq_" + "A" * 43).adapter("anything")
    assert caught.value.status == 401


def test_squeezed_is_the_optimal_rank_t_approximation(client: Client, tmp_path: Path) -> None:
    factors = make_adapter(tmp_path / "a", seed=4, rank=16, alpha=32.0)
    client.upload(tmp_path / "a", name="team-a/chat")  # a namespaced name: two path segments
    out = client.squeezed("team-a/chat", 8, dtype="f32", out=tmp_path / "r8")
    config = json.loads((out / "adapter_config.json").read_text())
    assert (config["r"], config["lora_alpha"], config["use_rslora"]) == (8, 8, False)
    weights = load_file(str(out / "adapter_model.safetensors"))
    for module, (a, b) in factors.items():
        a2, b2 = weights[f"base_model.model.{module}.lora_A.weight"], weights[f"base_model.model.{module}.lora_B.weight"]
        assert a2.shape == (8, a.shape[1]) and b2.shape == (b.shape[0], 8) and a2.dtype == np.float32
        want = best_rank(2.0 * b.astype(np.float64) @ a, 8)  # scale alpha/r = 32/16
        assert relative_error(b2.astype(np.float64) @ a2, want) < TOL
    assert not list(out.glob("*.part*"))


def squeezed_url_sha(server: Server, tmp_path: Path, name: str, seed: int) -> tuple[Path, bytes]:
    make_adapter(tmp_path / name, seed=seed)
    client = Client(server.url, server.token)
    client.upload(tmp_path / name, name=name)
    whole = client.squeezed(name, 8, out=tmp_path / f"{name}-whole") / "adapter_model.safetensors"
    return whole, whole.read_bytes()


def test_an_interrupted_download_resumes_with_range(server: Server, tmp_path: Path) -> None:
    whole, data = squeezed_url_sha(server, tmp_path, "resume", 5)
    out = tmp_path / "resumed"
    out.mkdir()
    half = len(data) // 2
    (out / "adapter_model.safetensors.part").write_bytes(data[:half])
    (out / "adapter_model.safetensors.part.etag").write_text(f'"{hashlib.sha256(data).hexdigest()}"')
    recording = RecordingClient(server.url, server.token)
    recording.squeezed("resume", 8, out=out)
    weights = [e for e in recording.exchanges if e[1].endswith("adapter_model.safetensors")]
    assert [(e[2].get("Range"), e[3]) for e in weights] == [(f"bytes={half}-", 206)]
    assert (out / "adapter_model.safetensors").read_bytes() == data
    assert sorted(p.name for p in out.iterdir()) == ["adapter_config.json", "adapter_model.safetensors"]


def test_a_part_that_is_not_the_files_prefix_is_downloaded_again(server: Server, tmp_path: Path) -> None:
    whole, data = squeezed_url_sha(server, tmp_path, "corrupt", 6)
    out = tmp_path / "again"
    out.mkdir()
    (out / "adapter_model.safetensors.part").write_bytes(b"\xff" * (len(data) // 2))
    (out / "adapter_model.safetensors.part.etag").write_text(f'"{hashlib.sha256(data).hexdigest()}"')
    recording = RecordingClient(server.url, server.token)
    recording.squeezed("corrupt", 8, out=out)
    weights = [e for e in recording.exchanges if e[1].endswith("adapter_model.safetensors")]
    assert [e[3] for e in weights] == [206, 200] and "Range" not in weights[1][2]
    assert (out / "adapter_model.safetensors").read_bytes() == data


def test_a_part_of_another_version_starts_over(server: Server, tmp_path: Path) -> None:
    whole, data = squeezed_url_sha(server, tmp_path, "other", 7)
    out = tmp_path / "other-version"
    out.mkdir()
    (out / "adapter_model.safetensors.part").write_bytes(data[:100])
    (out / "adapter_model.safetensors.part.etag").write_text('"' + "0" * 64 + '"')
    recording = RecordingClient(server.url, server.token)
    recording.squeezed("other", 8, out=out)
    weights = [e for e in recording.exchanges if e[1].endswith("adapter_model.safetensors")]
    assert [e[3] for e in weights] == [200]  # If-Range did not match: the whole file
    assert (out / "adapter_model.safetensors").read_bytes() == data


def test_a_directory_already_there_is_revalidated(server: Server, tmp_path: Path) -> None:
    whole, data = squeezed_url_sha(server, tmp_path, "fresh", 8)
    before = whole.stat().st_mtime_ns
    recording = RecordingClient(server.url, server.token)
    recording.squeezed("fresh", 8, out=whole.parent)
    assert [e[3] for e in recording.exchanges if "/squeezed/" in e[1]] == [304, 304]
    assert whole.stat().st_mtime_ns == before and whole.read_bytes() == data


def test_projections_map_the_factors(client: Client, tmp_path: Path) -> None:
    factors = make_adapter(tmp_path / "a", seed=9, rank=16)
    client.upload(tmp_path / "a", name="projected")
    out = client.squeezed("projected", 8, method="exact", dtype="f32", out=tmp_path / "r8")
    weights = load_file(str(out / "adapter_model.safetensors"))
    projections = load_file(str(client.projections("projected", 8, out=tmp_path / "p.safetensors")))
    for module, (a, b) in factors.items():
        t_a, t_b = projections[f"{module}.T_A"], projections[f"{module}.T_B"]
        assert t_a.shape == (8, 16) and t_b.shape == (16, 8)
        a2 = weights[f"base_model.model.{module}.lora_A.weight"]
        b2 = weights[f"base_model.model.{module}.lora_B.weight"]
        assert relative_error(t_a.astype(np.float64) @ a, a2) < TOL
        assert relative_error(b.astype(np.float64) @ t_b, b2) < TOL


def test_normalize_and_wait(client: Client, tmp_path: Path) -> None:
    for i in range(3):
        make_adapter(tmp_path / str(i), seed=20 + i, rank=8 + 8 * i)
        client.upload(tmp_path / str(i), name=f"fleet-{i}")
    job = client.normalize(8, prefix="fleet-", dtype="bf16")
    assert job.kind == "normalize" and job.total == 3
    done = client.wait(job, timeout=120)
    assert done.state == "succeeded" and done.done == 3
    assert all(a["status"] == "done" and "adapter_model.safetensors" in a["urls"] for a in done.adapters)
    listed = list(client.adapters(prefix="fleet-", page_size=2))
    assert sorted(n for a in listed for n in a.names) == ["fleet-0", "fleet-1", "fleet-2"]
    with pytest.raises(ValueError, match="exactly one"):
        client.normalize(8, prefix="fleet-", all=True)


def test_anneal_plan(client: Client) -> None:
    plan = client.anneal_plan(64, 8, 2000)
    assert [p.rank for p in plan.phases] == [64, 32, 16, 8]
    assert plan.squeeze_steps == (500, 1000, 1500)
    assert (plan.rank_at(499), plan.rank_at(500), plan.rank_at(5000)) == (64, 32, 8)
    assert (plan.rank_after(1000), plan.rank_after(999)) == (16, None)
    linear = client.anneal_plan(64, 8, 100, phases=2, schedule="linear", final_fraction=0.5)
    assert [(p.rank, p.start, p.end) for p in linear.phases] == [(64, 0, 50), (8, 50, 100)]
    with pytest.raises(ProblemError) as caught:
        client.anneal_plan(8, 64, 100)
    assert caught.value.status == 400 and "toRank" in caught.value.detail


def test_the_cli_and_the_service_squeeze_alike(server: Server, tmp_path: Path) -> None:
    make_adapter(tmp_path / "a", seed=10, rank=16)
    local = CLISqueezer(server.binary).squeeze(tmp_path / "a", 4, tmp_path / "cli")
    remote = ServiceSqueezer(Client(server.url, server.token), name="annealed").squeeze(tmp_path / "a", 4, tmp_path / "svc")
    for kind in ("directory", "projections"):
        mine = getattr(local, kind)
        theirs = getattr(remote, kind)
        a = load_file(str(mine / "adapter_model.safetensors" if kind == "directory" else mine))
        b = load_file(str(theirs / "adapter_model.safetensors" if kind == "directory" else theirs))
        assert a.keys() == b.keys()
        for key in a:
            assert np.allclose(a[key], b[key], rtol=1e-5, atol=1e-6), key
    assert CLISqueezer(server.binary).plan(64, 8, 2000) == Client(server.url, server.token).anneal_plan(64, 8, 2000)


# -- the retry and verification rules, against a fake server ----------------------------------------

class Fake(http.server.BaseHTTPRequestHandler):
    """Answers GETs from ``answers`` in order; an answer's fourth item, when present, is the Content-Length
    to declare (more than the body sent: the connection is then cut after the body)."""

    answers: list[tuple[Any, ...]] = []
    seen: list[str] = []
    ranges: list[str | None] = []

    def do_GET(self) -> None:  # noqa: N802 (http.server's name)
        Fake.seen.append(self.path)
        Fake.ranges.append(self.headers.get("Range"))
        status, headers, body, *declared = Fake.answers.pop(0)
        self.send_response(status)
        for k, v in {**headers, "Content-Length": str(declared[0] if declared else len(body))}.items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(body)
        if declared:
            self.wfile.flush()
            self.close_connection = True
            self.connection.shutdown(2)

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture()
def fake() -> Iterator[str]:
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Fake)
    Fake.answers, Fake.seen, Fake.ranges = [], [], []
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


def test_retry_after_is_honoured(fake: str) -> None:
    problem = json.dumps({"type": "/problems/squeeze-queue-full", "title": "Service Unavailable", "status": 503,
                          "detail": "queue full"}).encode()
    Fake.answers = [(503, {"Retry-After": "0", "Content-Type": "application/problem+json"}, problem),
                    (200, {"Content-Type": "application/json"}, b'{"id": "x", "state": "running", "done": 0, "total": 1}')]
    assert Client(fake).job("x").state == "running"
    assert len(Fake.seen) == 2
    Fake.answers = [(503, {"Retry-After": "0"}, problem)] * 3
    with pytest.raises(ProblemError) as caught:
        Client(fake, retries=2).job("x")
    assert caught.value.type == "/problems/squeeze-queue-full" and caught.value.retry_after == 0.0


def test_bytes_that_do_not_match_their_etag_are_not_kept(fake: str, tmp_path: Path) -> None:
    wrong = '"' + hashlib.sha256(b"something else").hexdigest() + '"'
    Fake.answers = [(200, {"ETag": wrong}, b"payload")]
    with pytest.raises(IntegrityError, match="does not match"):
        Client(fake).fetch_file("/file", tmp_path / "f")
    assert list(tmp_path.iterdir()) == []
    Fake.answers = [(200, {}, b"payload")]
    with pytest.raises(IntegrityError, match="announces no SHA-256"):
        Client(fake).fetch_file("/file", tmp_path / "f")


def test_a_content_location_is_a_checksum_too(fake: str, tmp_path: Path) -> None:
    digest = hashlib.sha256(b"payload").hexdigest()
    Fake.answers = [(200, {"ETag": 'W/"weak"', "Content-Location": f"/v1/blobs/{digest}"}, b"payload")]
    Client(fake).fetch_file("/file", tmp_path / "f")
    assert (tmp_path / "f").read_bytes() == b"payload"


def test_urls_are_checked() -> None:
    with pytest.raises(ValueError, match="http"):
        Client("ftp://host")
    with pytest.raises(ValueError, match="namespace/name"):
        Client("http://host").adapter("a/b/c")



def test_a_connection_cut_midway_resumes_where_it_stopped(fake: str, tmp_path: Path) -> None:
    data = bytes(range(256)) * 4096  # 1 MiB
    etag = f'"{hashlib.sha256(data).hexdigest()}"'
    cut = 300_000
    Fake.answers = [(200, {"ETag": etag}, data[:cut], len(data)),
                    (206, {"ETag": etag, "Content-Range": f"bytes {cut}-{len(data) - 1}/{len(data)}"}, data[cut:])]
    transfer = Client(fake, max_retry_wait=0).fetch_file("/file", tmp_path / "f")
    assert Fake.ranges == [None, f"bytes={cut}-"]
    assert (transfer.status, transfer.resumed_from, transfer.bytes_received) == (206, cut, len(data) - cut)
    assert (tmp_path / "f").read_bytes() == data and sorted(p.name for p in tmp_path.iterdir()) == ["f"]
