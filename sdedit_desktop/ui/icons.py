"""Icons from resources/icons (SVG, rendered by Qt's SVG image plugin)."""

from __future__ import annotations

from functools import cache

from PySide6.QtCore import QSize, Qt
from PySide6.QtGui import QIcon, QImage, QPainter, QPixmap
from PySide6.QtSvg import QSvgRenderer

from sdedit_desktop.resources import resources_dir


def icon_path(name: str) -> str:
    return str(resources_dir() / "icons" / f"{name}.svg")


def render_svg(name: str, size: int) -> QPixmap:
    renderer = QSvgRenderer(icon_path(name))
    image = QImage(QSize(size, size), QImage.Format.Format_ARGB32_Premultiplied)
    image.fill(Qt.GlobalColor.transparent)
    painter = QPainter(image)
    renderer.render(painter)
    painter.end()
    return QPixmap.fromImage(image)


@cache
def icon(name: str) -> QIcon:
    result = QIcon()
    for size in (16, 24, 32, 48):
        result.addPixmap(render_svg(name, size))
    return result


@cache
def app_icon() -> QIcon:
    result = QIcon()
    for size in (16, 32, 48, 64, 128, 256):
        result.addPixmap(render_svg("app", size))
    return result
