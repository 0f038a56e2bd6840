"""The desktop editor (PySide6): main window, canvas (image, mask brush, points), method panels,
history, compare view and dialogs, bound to the widget-free state in `ui.model` (document,
history, undo, jobs, next-edit parameters), which talks to the engine through its signals."""
