"""widget-free editor state; QtCore only"""
