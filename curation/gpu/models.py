"""Models by name: open_clip's names, plus our small configs in ``model_configs/`` (``tiny``
embeds and trains on a CPU in seconds). ``pretrained`` is a local checkpoint file or an
open_clip tag (tags need the hub); without it weights are randomly initialised."""

import logging
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

CONFIGS = Path(__file__).resolve().parent / "model_configs"


@lru_cache(maxsize=1)
def register_configs() -> None:
    import open_clip

    open_clip.add_model_config(CONFIGS)
    # torch's compiler logs its metrics at INFO on exit; the curate command logs at INFO.
    logging.getLogger("torch").setLevel(logging.WARNING)


def device_name(requested: str | None = None) -> str:
    import torch

    return requested or ("cuda" if torch.cuda.is_available() else "cpu")


@dataclass
class ModelBundle:
    model: object
    preprocess: object
    tokenizer: object
    device: str
    name: str


def load_model(name: str, pretrained: str | None = None, device: str | None = None, train: bool = False,
               seed: int = 0):
    """Model, image transform and tokenizer on ``device`` (GPU when there is one).

    Without ``pretrained`` the weights are drawn from ``seed``, so every worker of a job
    builds the same model (unseeded, each would embed its tars with other weights)."""
    import open_clip
    import torch

    register_configs()
    device = device_name(device)
    if not pretrained:
        torch.manual_seed(seed)
    model, preprocess_train, preprocess_val = open_clip.create_model_and_transforms(
        name, pretrained=pretrained, device=device)
    model.train(train)
    return ModelBundle(model, preprocess_train if train else preprocess_val, open_clip.get_tokenizer(name), device,
                       name)


@lru_cache(maxsize=2)
def worker_model(name: str, pretrained: str | None) -> ModelBundle:
    """One model per worker process (per GPU), loaded once and reused by its later tasks."""
    return load_model(name, pretrained)


def encode_query(bundle: ModelBundle, text: str | None = None, image: str | None = None):
    """The unit-length embedding (float32 numpy) of a text, or of an image file."""
    import torch

    with torch.no_grad():
        if text is not None:
            vec = bundle.model.encode_text(bundle.tokenizer([text]).to(bundle.device))
        else:
            from PIL import Image, UnidentifiedImageError

            from curation.core.errors import InputError

            try:
                with Image.open(image) as im:
                    pixels = bundle.preprocess(im.convert("RGB"))
            except (OSError, UnidentifiedImageError) as exc:
                raise InputError(f"--image {image}: not a readable image ({exc})") from None
            vec = bundle.model.encode_image(pixels[None].to(bundle.device))
    return torch.nn.functional.normalize(vec.float(), dim=-1)[0].cpu().numpy()
