// The painter's canvas (an anywidget ES module): draws the label map Python sends, sends strokes and fills back.
// Python's LabelMap is the single source of truth: this file never paints a class itself, it only draws
// what it receives, palette colour per class id, scaled nearest-neighbour (no smoothing, no blended colours).

const FLUSH_MS = 30; // a drag's points are sent in batches at most this often

function asBytes(value) {
  // labels arrive as a DataView (ipywidgets 7 and 8), an ArrayBuffer or a typed array
  if (value instanceof DataView) return new Uint8Array(value.buffer, value.byteOffset, value.byteLength);
  if (value instanceof ArrayBuffer) return new Uint8Array(value);
  if (ArrayBuffer.isView(value)) return new Uint8Array(value.buffer, value.byteOffset, value.byteLength);
  return new Uint8Array(0);
}

function render({ model, el }) {
  const canvas = document.createElement("canvas");
  canvas.className = "spade-painter-canvas";
  canvas.style.imageRendering = "pixelated";
  canvas.style.cursor = "crosshair";
  canvas.style.touchAction = "none";
  canvas.style.display = "block";
  const context = canvas.getContext("2d");
  const source = document.createElement("canvas"); // the map at its own resolution, one canvas pixel per label pixel
  const sourceContext = source.getContext("2d");
  el.appendChild(canvas);
  el.classList.add("spade-painter");

  function draw() {
    const width = model.get("width");
    const height = model.get("height");
    const scale = model.get("scale");
    const palette = model.get("palette");
    const ids = asBytes(model.get("labels"));
    if (ids.length !== width * height) return;
    source.width = width;
    source.height = height;
    const pixels = sourceContext.createImageData(width, height);
    for (let i = 0; i < ids.length; i++) {
      const colour = palette[ids[i]] || [0, 0, 0]; // 255 (don't care) and unknown ids are black
      pixels.data[4 * i] = colour[0];
      pixels.data[4 * i + 1] = colour[1];
      pixels.data[4 * i + 2] = colour[2];
      pixels.data[4 * i + 3] = 255;
    }
    sourceContext.putImageData(pixels, 0, 0);
    if (canvas.width !== width * scale || canvas.height !== height * scale) {
      canvas.width = width * scale;
      canvas.height = height * scale;
    }
    context.imageSmoothingEnabled = false; // nearest neighbour: every screen pixel is exactly one palette colour
    context.drawImage(source, 0, 0, width * scale, height * scale);
    el.dataset.version = String(model.get("version")); // lets a browser test wait for Python's answer
  }

  function mapPoint(event) {
    const box = canvas.getBoundingClientRect();
    return [
      ((event.clientX - box.left) / box.width) * model.get("width"),
      ((event.clientY - box.top) / box.height) * model.get("height"),
    ];
  }

  let pending = null; // points of the current drag not yet sent
  let continues = false; // false for a drag's first batch: Python starts a new undo step
  let timer = null;

  function flush() {
    timer = null;
    if (pending === null || pending.length === 0) return;
    model.send({
      kind: "stroke",
      points: pending,
      class_id: model.get("class_id"),
      size: model.get("brush_size"),
      continues: continues,
    });
    continues = true;
    pending = [pending[pending.length - 1]]; // the next batch starts where this one ended: no gaps
  }

  function schedule() {
    if (timer === null) timer = setTimeout(flush, FLUSH_MS);
  }

  function down(event) {
    if (event.button !== 0) return;
    event.preventDefault();
    const point = mapPoint(event);
    if (model.get("tool") === "fill") {
      model.send({ kind: "fill", x: point[0], y: point[1], class_id: model.get("class_id") });
      return;
    }
    canvas.setPointerCapture(event.pointerId);
    pending = [point];
    continues = false;
    flush();
  }

  function move(event) {
    if (pending === null) return;
    pending.push(mapPoint(event));
    schedule();
  }

  function up(event) {
    if (pending === null) return;
    if (timer !== null) clearTimeout(timer);
    flush();
    pending = null;
    if (canvas.hasPointerCapture(event.pointerId)) canvas.releasePointerCapture(event.pointerId);
  }

  canvas.addEventListener("pointerdown", down);
  canvas.addEventListener("pointermove", move);
  canvas.addEventListener("pointerup", up);
  canvas.addEventListener("pointercancel", up);
  model.on("change:labels", draw);
  model.on("change:palette", draw);
  model.on("change:scale", draw);
  draw();
  return () => {
    if (timer !== null) clearTimeout(timer);
    model.off("change:labels", draw);
    model.off("change:palette", draw);
    model.off("change:scale", draw);
  };
}

export default { render };
