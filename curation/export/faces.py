"""Face blurring for export (``--blur-faces``): faces found with OpenCV's bundled Haar
cascade (no download) are blurred before an image is written; their boxes go into the
sample's json as ``face_bboxes`` ([x0, y0, x1, y1] as fractions of width and height, as
img2dataset records them)."""

from functools import lru_cache

import numpy as np

CASCADE = "haarcascade_frontalface_default.xml"


@lru_cache(maxsize=1)
def _detector():
    import cv2

    detector = cv2.CascadeClassifier(cv2.data.haarcascades + CASCADE)
    if detector.empty():
        raise RuntimeError(f"OpenCV's {CASCADE} could not be loaded")
    return detector


def face_boxes(image) -> list[tuple[int, int, int, int]]:
    """Pixel boxes (x, y, w, h) of the faces in a PIL image."""
    import cv2

    gray = cv2.cvtColor(np.asarray(image.convert("RGB")), cv2.COLOR_RGB2GRAY)
    side = max(24, min(image.size) // 20)
    found = _detector().detectMultiScale(gray, scaleFactor=1.1, minNeighbors=5, minSize=(side, side))
    return [tuple(int(v) for v in box) for box in found]


def blur_faces(image, row=None):
    """An image hook: ``(image with its faces blurred, {"face_bboxes": [...]}, None)``; the
    image itself when it has no face."""
    from PIL import ImageFilter

    boxes = face_boxes(image)
    if not boxes:
        return image, {"face_bboxes": []}, None
    out = image.convert("RGB")
    width, height = out.size
    for x, y, w, h in boxes:
        # Grow each box a little: the cascade's box is tight around the features.
        x0, y0 = max(0, x - w // 8), max(0, y - h // 8)
        x1, y1 = min(width, x + w + w // 8), min(height, y + h + h // 8)
        region = out.crop((x0, y0, x1, y1))
        out.paste(region.filter(ImageFilter.GaussianBlur(radius=max(4, (x1 - x0) // 6))), (x0, y0))
    bboxes = [[round(x / width, 4), round(y / height, 4), round((x + w) / width, 4), round((y + h) / height, 4)]
              for x, y, w, h in boxes]
    return out, {"face_bboxes": bboxes}, None
