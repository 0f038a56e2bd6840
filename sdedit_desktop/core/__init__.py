"""The bottom layer: types every other package shares (progress and cancellation, image digests,
model identity, point and grid types). Imports nothing from the rest of the app, and none of its
modules but `tensors` imports torch, so requests, the UI and the project format can use it
without loading torch."""
