"""Widget-free editor state; QtCore only. Observable objects (Qt signals) the window and the
panels bind to, testable without widgets and without torch."""
