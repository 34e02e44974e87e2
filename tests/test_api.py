"""REST API against a real server (uvicorn in a subprocess): health, options, samples,
uploads, images with ?size, OpenAPI, security headers."""

from __future__ import annotations

import io

import httpx
import numpy as np
import pytest
from live_server import running_server, serving_here
from PIL import Image

from polytope_lens.assets import FRONTEND_DIR
from polytope_lens.core.settings import RunConfig, ViewSettings
from polytope_lens.web.routers.pages import PLOTLY_BASIC_JS, PLOTLY_JS


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    with running_server(data_dir=tmp_path_factory.mktemp("data")) as url:
        yield url


@pytest.fixture(scope="module")
def http(server):
    with httpx.Client(base_url=server, timeout=30) as client:
        yield client


def png_bytes(img: Image.Image) -> bytes:
    buf = io.BytesIO()
    img.save(buf, format="PNG")
    return buf.getvalue()


def gradient(width: int = 300, height: int = 200) -> Image.Image:
    """Red grows left to right, green top to bottom, blue constant."""
    x = np.linspace(0, 255, width, dtype=np.float32)[None, :].repeat(height, 0)
    y = np.linspace(0, 255, height, dtype=np.float32)[:, None].repeat(width, 1)
    rgb = np.stack([x, y, np.full_like(x, 90)], axis=2)
    return Image.fromarray(rgb.astype(np.uint8), "RGB")


def test_health(http):
    r = http.get("/api/health")
    assert r.status_code == 200
    body = r.json()
    assert body["status"] == "ok"
    assert body["sessions"] == 0


def test_options_defaults_and_limits(http):
    body = http.get("/api/options").json()
    assert body["defaults"] == {**RunConfig().model_dump(), **ViewSettings().model_dump()}
    kinds = {row["name"]: row["kind"] for row in body["settings"]}
    assert kinds["layers"] == kinds["image"] == kinds["seed"] == "network"
    assert kinds["lr"] == kinds["optimizer"] == kinds["batch_size"] == kinds["momentum"] == "training"
    assert kinds["resolution"] == kinds["fill_regions"] == "view"
    assert set(kinds) == set(RunConfig.model_fields) | set(ViewSettings.model_fields)
    resolution = next(row for row in body["settings"] if row["name"] == "resolution")
    assert (resolution["min"], resolution["max"], resolution["type"]) == (16, 1024, "int")
    lr = next(row for row in body["settings"] if row["name"] == "lr")
    assert (lr["min_exclusive"], lr["max"]) == (0.0, 10.0)
    assert body["point_colors"] == {"train": "#e61e1e", "val": "#1e50e6"}
    limits = body["limits"]
    for key in (
        "max_depth",
        "max_width",
        "max_parameters",
        "max_points",
        "max_resolution",
        "max_upload_bytes",
        "max_sessions",
        "max_message_bytes",
        "max_point_activations",
        "max_frame_cost",
    ):
        assert isinstance(limits[key], int) and limits[key] > 0, key
    assert limits["max_sessions"] == 4
    assert limits["max_upload_bytes"] == 20 * 1024 * 1024


def test_options_publish_the_drawing_facts_the_page_paints_with(http):
    """Stated once, in Python: the page (frontend/shared/facts.js) reads them from here."""
    from polytope_lens.core.classes import MAX_CLASSES
    from polytope_lens.output import boundaries, classmap, moments, render

    body = http.get("/api/options").json()
    assert body["limits"]["max_classes"] == MAX_CLASSES
    assert body["drawing"] == {
        "boundary_fade_eighths": list(boundaries.FADE_EIGHTHS),
        "boundary_color": list(render.BOUNDARY_COLOR),
        "region_edge_color": list(render.REGION_EDGE_COLOR),
        "class_region_edge_color": list(classmap.CLASS_REGION_EDGE),
        "decision_color": list(classmap.DECISION_COLOR),
        "class_val_point_color": list(classmap.VAL_POINT_COLOR),
        "class_lightest": classmap.LIGHTEST,
        "unlabelled_fade": classmap.UNLABELLED_FADE,
        "nearby_frames": moments.NEARBY_FRAMES,
    }


def test_samples_are_listed_and_served(http):
    samples = http.get("/api/samples").json()
    ids = {s["id"] for s in samples}
    assert {"ring", "spiral", "checkerboard"} <= ids
    for sample in samples:
        assert sample["url"] == f"/api/images/{sample['id']}"
        assert sample["name"]
    r = http.get("/api/images/ring")
    assert r.status_code == 200 and r.headers["content-type"] == "image/png"
    img = Image.open(io.BytesIO(r.content))
    assert img.size == (1024, 1024)
    assert img.mode == "L"  # grayscale targets as gray PNG


@pytest.mark.parametrize("size", [16, 64, 333, 1024])
def test_image_size_parameter(http, size):
    r = http.get("/api/images/spiral", params={"size": size})
    assert r.status_code == 200
    assert Image.open(io.BytesIO(r.content)).size == (size, size)


@pytest.mark.parametrize("size", ["8", "15", "1025", "-1", "big"])
def test_image_size_out_of_range_is_explained(http, size):
    r = http.get("/api/images/ring", params={"size": size})
    assert r.status_code == 422
    detail = r.json()["detail"]
    assert isinstance(detail, str) and detail.startswith("size:")


@pytest.mark.parametrize("image_id", ["nope", "ring.png", ".ring", "A" * 300, "%2E%2E", "..%2F..%2Fetc%2Fpasswd"])
def test_unknown_image_is_404_with_words(http, image_id):
    r = http.get(f"/api/images/{image_id}")
    assert r.status_code == 404
    assert isinstance(r.json()["detail"], str)
    if "%2F" not in image_id:
        assert "no picture" in r.json()["detail"]


def test_upload_and_fetch_back(http):
    source = gradient(300, 200)
    r = http.post("/api/images", files={"file": ("gradient.png", png_bytes(source), "image/png")})
    assert r.status_code == 201, r.text
    body = r.json()
    assert body["width"] == 1024 and body["height"] == 1024
    assert body["url"] == f"/api/images/{body['image_id']}"
    full = Image.open(io.BytesIO(http.get(body["url"]).content))
    assert full.size == (1024, 1024) and full.mode == "RGB"  # a colourful upload stays colourful
    thumb = Image.open(io.BytesIO(http.get(body["url"], params={"size": 48}).content))
    assert thumb.size == (48, 48)
    # centre crop of a 300x200 gradient: the left edge is darker than the right in the red channel
    r_left, r_right = full.getpixel((5, 512))[0], full.getpixel((1018, 512))[0]
    assert r_left < r_right


def test_upload_ids_are_random_and_unguessable(http):
    data = png_bytes(gradient(64, 64))
    ids = {
        http.post("/api/images", files={"file": ("same.png", data, "image/png")}).json()["image_id"]
        for _ in range(3)
    }
    assert len(ids) == 3  # the same picture twice gets two ids: nothing derived from content or name
    for image_id in ids:
        assert len(image_id) >= 20
        assert "same" not in image_id


def test_upload_without_file_field(http):
    r = http.post("/api/images", files={"picture": ("a.png", png_bytes(gradient(32, 32)), "image/png")})
    assert r.status_code == 422
    assert "file" in r.json()["detail"]


def test_upload_not_a_picture(http):
    r = http.post("/api/images", files={"file": ("notes.png", b"just some text\n" * 10, "image/png")})
    assert r.status_code == 415
    assert "not a picture" in r.json()["detail"]


@pytest.mark.parametrize("kind", ["frame.png", "movie", "checkpoint", "config"])
def test_session_downloads_need_a_real_token(http, kind):
    r = http.get(f"/api/sessions/not-a-token/{kind}")
    assert r.status_code == 404
    assert "session" in r.json()["detail"]


def test_openapi_schema_lists_the_routes(http):
    schema = http.get("/openapi.json").json()
    paths = schema["paths"]
    for path in (
        "/api/health",
        "/api/options",
        "/api/samples",
        "/api/images",
        "/api/images/{image_id}",
        "/api/sessions/{token}/frame.png",
        "/api/sessions/{token}/movie",
        "/api/sessions/{token}/checkpoint",
        "/api/sessions/{token}/config",
    ):
        assert path in paths, path
    upload = paths["/api/images"]["post"]
    assert "multipart/form-data" in upload["requestBody"]["content"]
    assert {"201", "413", "415", "422"} <= set(upload["responses"])
    # error answers are documented as they are sent: {"detail": "<words>"}
    problem = upload["responses"]["415"]["content"]["application/json"]["schema"]["$ref"].rsplit("/", 1)[1]
    assert schema["components"]["schemas"][problem]["properties"]["detail"]["type"] == "string"
    assert http.get("/docs").status_code == 200


def test_security_headers(http):
    for path in ("/api/health", "/api/images/nope", "/api/samples"):
        r = http.get(path)
        assert r.headers["x-content-type-options"] == "nosniff"
        assert r.headers["x-frame-options"] == "DENY"
        csp = r.headers["content-security-policy"]
        assert "default-src 'self'" in csp and "script-src 'self'" in csp
        assert "unsafe-inline" not in csp.split("script-src", 1)[1].split(";", 1)[0]
        assert "server" not in r.headers  # no software banner


def test_frontend_page_is_served_with_a_strict_policy(tmp_path):
    (tmp_path / "index.html").write_text('<!doctype html><script type="module" src="/static/app.js"></script>')
    (tmp_path / "app.js").write_text("export {};\n")
    with serving_here(frontend_dir=tmp_path) as url:
        r = httpx.get(url + "/")
        assert r.status_code == 200 and "text/html" in r.headers["content-type"]
        assert "script-src 'self'" in r.headers["content-security-policy"]
        js = httpx.get(url + "/static/app.js")
        assert js.status_code == 200 and "javascript" in js.headers["content-type"]
        # without the basic bundle beside the page (no npm at setup), plotly's full bundle
        full = httpx.get(url + "/static/vendor/plotly.min.js")
        assert full.status_code == 200 and full.content == PLOTLY_JS.read_bytes()
        missing = httpx.get(url + "/static/../../etc/passwd")
        assert missing.status_code == 404


def test_the_page_gets_plotlys_basic_bundle_where_setup_fetched_it():
    """scripts/setup.sh fetches it (CI runs that script): the charts need nothing past it."""
    basic = FRONTEND_DIR / PLOTLY_BASIC_JS
    assert basic.is_file(), "scripts/setup.sh puts plotly's basic bundle in frontend/vendor/"
    with serving_here() as url:
        served = httpx.get(url + "/static/vendor/plotly.min.js")
    assert served.status_code == 200 and served.content == basic.read_bytes()
    assert b"plotly.js (basic" in served.content[:200] and len(served.content) < len(PLOTLY_JS.read_bytes()) / 3


def test_default_bind_is_loopback():
    from polytope_lens.web.app import uvicorn_config
    from polytope_lens.web.config import Settings

    async def app(scope, receive, send):  # uvicorn_config would otherwise build a real app
        pass

    settings = Settings()
    assert settings.host == "127.0.0.1"
    config = uvicorn_config(settings, app=app)
    assert config.host == "127.0.0.1"
    assert config.ws_max_size == settings.max_ws_message_bytes
    exposed = uvicorn_config(Settings(host="0.0.0.0", port=9000), app=app)
    assert (exposed.host, exposed.port) == ("0.0.0.0", 9000)
