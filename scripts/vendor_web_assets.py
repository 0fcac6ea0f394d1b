"""Copies the browser assets the services serve from npm's pinned packages (node_modules, see
package.json) into the Python packages, so an installed wheel or image serves them without Node
and without a network. tests/servicekit/test_docs_page.py fails when a copy drifts from npm's.

    .venv/bin/python scripts/vendor_web_assets.py
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

#: (npm package folder, file under it) -> the package folder it is served from (same subpath).
ASSETS: dict[tuple[str, str], Path] = (
    {
        ("swagger-ui-dist", name): ROOT / "servicekit/http/static/swagger-ui"
        for name in (
            "swagger-ui-bundle.js",
            "swagger-ui-bundle.js.LICENSE.txt",
            "swagger-ui.css",
            "favicon-32x32.png",
            "LICENSE",
            "NOTICE",
        )
    }
    | {  # keccak-256 for the in-browser receipt check: three ES modules, no bundler needed
        ("@noble/hashes", name): ROOT / "dashboard/static/vendor/noble-hashes"
        for name in ("sha3.js", "_u64.js", "utils.js", "LICENSE")
    }
    | {  # the camera scan on /check: zxing-cpp's reader as WebAssembly, its ES module and glue
        ("zxing-wasm", name): ROOT / "dashboard/static/vendor/zxing-wasm"
        for name in (
            "dist/es/reader/index.js",
            "dist/es/share.js",
            "dist/reader/zxing_reader.wasm",
            "LICENSE",
        )
    }
)


def main() -> int:
    for (package, name), target in ASSETS.items():
        source = ROOT / "node_modules" / package / name
        if not source.is_file():
            print(f"{source} is missing: run `make deps` first", file=sys.stderr)
            return 1
        (target / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(source, target / name)
    print(f"copied {len(ASSETS)} files")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
