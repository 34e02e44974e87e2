"""Shared pieces of REST responses: the problem model, download headers."""

from __future__ import annotations

from pydantic import BaseModel


class Problem(BaseModel):
    detail: str


_WORDS = {
    404: "unknown id or token",
    413: "the file is larger than the upload limit",
    415: "not a picture, or an unsupported kind of file",
    422: "an invalid request, or a picture that cannot be used",
}


def problems(*codes: int) -> dict:
    """OpenAPI ``responses`` entries for error codes, each with its meaning."""
    return {code: {"model": Problem, "description": _WORDS[code]} for code in codes}


def attachment(name: str) -> dict:
    """Headers of a download."""
    return {"Content-Disposition": f'attachment; filename="{name}"', "Cache-Control": "no-store"}


def describe_request_errors(errors) -> str:
    """FastAPI's validation errors as one sentence per problem, naming the parameter."""
    parts = []
    for err in errors:
        loc = [str(p) for p in err.get("loc", ()) if p not in ("query", "path", "body", "header", "cookie")]
        name = ".".join(loc) or "request"
        msg = str(err.get("msg", "invalid"))
        if loc and loc[0] == "file":
            msg = "must be the picture file itself, sent as multipart/form-data"
        parts.append(f"{name}: {msg}")
    return "; ".join(parts)[:500] or "invalid request"
