// Photos taken or picked in the app: shrunk on the phone to at most 2,048 px on the longest
// side (JPEG), hashed (SHA-256, the name the report binds it by) and previewed.
export const LONGEST_SIDE = 2048;
const QUALITY = 0.85;
const KEPT_AS_IS = new Set(["image/jpeg", "image/png"]);

/** {blob, sha256, name, preview, width, height} for a picked file. A JPEG or PNG already small
 * enough is kept byte for byte (with its camera metadata: the server strips that from the copy
 * it shows); a larger one is redrawn smaller; one the browser cannot draw is kept as it is. */
export async function preparePhoto(file) {
  let bitmap = null;
  try {
    bitmap = await createImageBitmap(file);
  } catch {
    return described(file, file.name, null, null);
  }
  const { width, height } = bitmap;
  const scale = Math.min(1, LONGEST_SIDE / Math.max(width, height));
  if (scale === 1 && KEPT_AS_IS.has(file.type)) {
    const kept = await described(file, file.name, width, height, bitmap);
    bitmap.close();
    return kept;
  }
  const canvas = drawn(bitmap, Math.round(width * scale), Math.round(height * scale));
  bitmap.close();
  const blob = await new Promise((resolve) => canvas.toBlob(resolve, "image/jpeg", QUALITY));
  const name = file.name.replace(/\.[^.]*$/, "") + ".jpg";
  return described(blob, name, canvas.width, canvas.height, canvas);
}

function drawn(source, width, height) {
  const canvas = document.createElement("canvas");
  canvas.width = width;
  canvas.height = height;
  canvas.getContext("2d").drawImage(source, 0, 0, width, height);
  return canvas;
}

async function described(blob, name, width, height, image = null) {
  const digest = await crypto.subtle.digest("SHA-256", await blob.arrayBuffer());
  const sha256 = [...new Uint8Array(digest)].map((b) => b.toString(16).padStart(2, "0")).join("");
  return { blob, sha256, name: name || "photo", width, height, preview: image ? thumbnail(image) : null };
}

/** A small data: URL (the page's CSP allows data: images, not blob:). */
function thumbnail(image) {
  const scale = Math.min(1, 160 / Math.max(image.width, image.height));
  return drawn(image, Math.max(1, Math.round(image.width * scale)),
               Math.max(1, Math.round(image.height * scale))).toDataURL("image/jpeg", 0.7);
}
