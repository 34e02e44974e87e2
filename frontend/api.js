// The REST part of docs/protocol.md.

/** Words for a failed response: the server's `detail` when it sent one. */
async function failure(response, what) {
  let detail = "";
  try {
    const body = await response.json();
    if (typeof body.detail === "string") detail = body.detail;
    else if (Array.isArray(body.detail)) {
      detail = body.detail
        .map((d) => (d && typeof d.msg === "string" ? d.msg : JSON.stringify(d)))
        .join("; ");
    } else if (body.detail !== undefined) detail = JSON.stringify(body.detail);
  } catch (err) {
    // not JSON: fall back to the status line
  }
  if (!detail) {
    detail =
      response.status === 413
        ? "the file is larger than the upload limit"
        : `${response.status} ${response.statusText || "error"}`.trim();
  }
  const error = new Error(`${what}: ${detail}`);
  error.detail = detail;
  error.status = response.status;
  return error;
}

async function getJson(path, what) {
  const response = await fetch(path, { headers: { Accept: "application/json" }, cache: "no-store" });
  if (!response.ok) throw await failure(response, what);
  return response.json();
}

/** {defaults, limits} */
export function fetchOptions() {
  return getJson("/api/options", "options");
}

/** [{id, name, url}] */
export function fetchSamples() {
  return getJson("/api/samples", "samples");
}

/** Upload a picture; resolves to {image_id, width, height, url}, rejects with the server's detail. */
export async function uploadImage(file) {
  const form = new FormData();
  form.append("file", file, file.name || "upload");
  let response;
  try {
    response = await fetch("/api/images", { method: "POST", body: form });
  } catch (err) {
    const error = new Error("Upload failed: the server could not be reached");
    error.detail = "the server could not be reached";
    throw error;
  }
  if (!response.ok) throw await failure(response, "Upload failed");
  return response.json();
}

export function thumbnailUrl(url, size = 96) {
  return `${url}${url.includes("?") ? "&" : "?"}size=${size}`;
}

export function sessionUrl(token, what) {
  return `/api/sessions/${encodeURIComponent(token)}/${what}`;
}
