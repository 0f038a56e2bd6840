"""Render resources/icons/app.svg into what each platform's executable wants: a multi-size
.ico (Windows), an .icns (macOS) and a 256 px PNG (Linux desktop files).

    python packaging/make_icon.py OUTDIR

Qt renders the SVG (the same renderer the app uses at run time), Pillow writes the containers."""

from __future__ import annotations

import io
import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SVG = ROOT / "resources" / "icons" / "app.svg"
ICO_SIZES = (16, 24, 32, 48, 64, 128, 256)
ICNS_SIZES = (16, 32, 64, 128, 256, 512, 1024)


def render_png(svg: Path, size: int) -> bytes:
    from PySide6.QtCore import QBuffer, QByteArray, QIODevice, QSize, Qt
    from PySide6.QtGui import QImage, QPainter
    from PySide6.QtSvg import QSvgRenderer
    from PySide6.QtWidgets import QApplication

    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    # A QApplication (not just a QGuiApplication): in a process that later opens widgets (the
    # tests) a GUI-only application object would make every QWidget abort.
    _app = QApplication.instance() or QApplication(["make_icon"])
    renderer = QSvgRenderer(str(svg))
    if not renderer.isValid():
        raise ValueError(f"{svg}: not a valid SVG file")
    image = QImage(QSize(size, size), QImage.Format.Format_ARGB32)
    image.fill(Qt.GlobalColor.transparent)
    painter = QPainter(image)
    renderer.render(painter)
    painter.end()
    data = QByteArray()
    buffer = QBuffer(data)
    buffer.open(QIODevice.OpenModeFlag.WriteOnly)
    image.save(buffer, "PNG")
    buffer.close()
    return bytes(data.data())


def make_icons(out_dir: Path, svg: Path = SVG) -> dict[str, Path]:
    """Write app.ico, app.icns and app.png into out_dir; returns the paths by suffix."""
    from PIL import Image

    out_dir.mkdir(parents=True, exist_ok=True)
    big = Image.open(io.BytesIO(render_png(svg, 1024))).convert("RGBA")
    # Each small size rendered from the vector, not downscaled: thin strokes stay crisp.
    per_size = {s: Image.open(io.BytesIO(render_png(svg, s))).convert("RGBA") for s in ICO_SIZES}
    paths = {".ico": out_dir / "app.ico", ".icns": out_dir / "app.icns",
             ".png": out_dir / "app.png"}
    per_size[256].save(paths[".ico"], format="ICO", sizes=[(s, s) for s in ICO_SIZES],
                       append_images=[per_size[s] for s in ICO_SIZES if s != 256])
    big.save(paths[".icns"], format="ICNS", sizes=[(s, s) for s in ICNS_SIZES])
    per_size[256].save(paths[".png"], format="PNG")
    return paths


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: make_icon.py OUTDIR")
    for path in make_icons(Path(sys.argv[1])).values():
        print(path)
