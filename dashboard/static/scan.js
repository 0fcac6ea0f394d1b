// Scan with the phone's camera on /check: the environment-facing camera's frames go to
// zxing-cpp's reader (zxing-wasm, served from this host with its .wasm; nothing is fetched from
// elsewhere), the first DataMatrix or QR code read becomes the form's code, and the form is
// submitted: the verdict is the server's, exactly as for a typed code. Without a camera, or
// when the camera is refused, the page says so and typing keeps working; without JavaScript
// this file never runs and the scanner stays hidden.
import { prepareZXingModule, readBarcodes } from "./vendor/zxing-wasm/dist/es/reader/index.js";

const GS = "\x1d";
//: symbology identifiers of GS1 data (FNC1 in first position): DataMatrix, QR Code, Code 128
const GS1_IDENTIFIERS = new Set(["]d2", "]Q3", "]C1"]);

// The code to check from one reading (zxing's ReadResult in "Plain" text mode): a GS1 symbol's
// element string as a handheld scanner sends it, its symbology identifier then the AIs, each
// variable-length field ended by GS (0x1D) where the symbol had FNC1; a symbol printed without
// GS1 mode but with a leading FNC1/GS (as some printers make them) is read as GS1 too; any
// other text (a Digital Link URL from a QR code, an EPC URN) is passed on as it is.
export function codeOf({ text, symbologyIdentifier }) {
  const body = text.replace(/^[ \t\r\n]+|[ \t\r\n]+$/g, "");
  const fields = body.replace(/^\x1d+|\x1d+$/g, "");
  if (GS1_IDENTIFIERS.has(symbologyIdentifier)) return symbologyIdentifier + fields;
  if (body.startsWith(GS)) return "]d2" + fields;
  return body;
}

const READER = {
  formats: ["DataMatrix", "QRCode"],
  textMode: "Plain",
  tryHarder: true,
  tryRotate: true,
  maxNumberOfSymbols: 1,
};
const EVERY_MS = 200;

function start(scanner) {
  const form = scanner.closest("form");
  const input = form.querySelector("#code");
  const button = scanner.querySelector("#scan");
  const view = scanner.querySelector("#scan-view");
  const status = scanner.querySelector("#scan-status");
  const say = (key) => { status.textContent = scanner.dataset[key]; status.dataset.state = key; };
  const canvas = document.createElement("canvas");
  let stream = null;
  let timer = null;

  const stop = () => {
    if (timer) clearTimeout(timer);
    timer = null;
    if (stream) stream.getTracks().forEach((track) => track.stop());
    stream = null;
    view.srcObject = null;
    view.hidden = true;
    button.textContent = scanner.dataset.scan;
    button.setAttribute("aria-pressed", "false");
  };

  const look = async () => {
    timer = null;
    if (!stream) return;
    const width = view.videoWidth;
    const height = view.videoHeight;
    if (width && height) {
      canvas.width = width;
      canvas.height = height;
      const context = canvas.getContext("2d", { willReadFrequently: true });
      context.drawImage(view, 0, 0, width, height);
      let found;
      try {
        const results = await readBarcodes(context.getImageData(0, 0, width, height), READER);
        found = results.find((result) => result.isValid && result.text);
      } catch (error) {
        stop();
        say("failed");
        return;
      }
      if (found && stream) {
        stop();
        input.value = codeOf(found);
        say("found");
        form.requestSubmit();
        return;
      }
    }
    if (stream) timer = setTimeout(look, EVERY_MS);
  };

  button.addEventListener("click", async () => {
    if (stream) { stop(); status.textContent = ""; return; }
    // browsers give the camera to secure pages only (https, or this machine itself)
    if (!window.isSecureContext) { say("insecure"); return; }
    if (!navigator.mediaDevices || !navigator.mediaDevices.getUserMedia) { say("nocamera"); return; }
    say("starting");
    try {
      stream = await navigator.mediaDevices.getUserMedia({
        // the back camera, sharp enough for a 10 mm DataMatrix at a hand's distance
        video: { facingMode: { ideal: "environment" }, width: { ideal: 1280 }, height: { ideal: 720 } },
        audio: false,
      });
    } catch (error) {
      stream = null;
      const name = error && error.name;
      say(name === "NotAllowedError" || name === "SecurityError" ? "denied"
        : name === "NotFoundError" || name === "OverconstrainedError" || name === "NotReadableError" ? "nocamera"
          : "failed");
      return;
    }
    view.srcObject = stream;
    view.hidden = false;
    button.textContent = scanner.dataset.stop;
    button.setAttribute("aria-pressed", "true");
    try {
      await view.play();
      say("looking");
      look();
    } catch (error) {
      stop();
      say("failed");
    }
  });
  scanner.hidden = false;
}

const scanner = document.getElementById("scanner");
if (scanner) {
  // the .wasm beside its glue on this host, never the library's default CDN
  prepareZXingModule({
    overrides: {
      locateFile: (path, prefix) =>
        path.endsWith(".wasm") ? new URL("./vendor/zxing-wasm/dist/reader/" + path, import.meta.url).href : prefix + path,
    },
  });
  start(scanner);
}
