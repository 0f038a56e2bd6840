"""The desktop editor (PySide6): main window, canvas (image, mask brush, points), method panels,
history, compare view and dialogs. The UI builds edit requests and talks to the engine through
its signals; it never imports torch."""
