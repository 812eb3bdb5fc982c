"""ViT-B/32: torchvision's VisionTransformer, sizes configurable for small presets."""

from __future__ import annotations

from torchvision.models.vision_transformer import VisionTransformer


def build_vit(
    image_size: int = 224,
    patch_size: int = 32,
    num_layers: int = 12,
    num_heads: int = 12,
    hidden_dim: int = 768,
    mlp_dim: int = 3072,
    num_classes: int = 1000,
    dropout: float = 0.0,
) -> VisionTransformer:
    """torchvision VisionTransformer; the defaults are ViT-B/32."""
    if image_size % patch_size:
        raise ValueError(f"image_size {image_size} must be a multiple of patch_size {patch_size}")
    return VisionTransformer(
        image_size=image_size,
        patch_size=patch_size,
        num_layers=num_layers,
        num_heads=num_heads,
        hidden_dim=hidden_dim,
        mlp_dim=mlp_dim,
        num_classes=num_classes,
        dropout=dropout,
    )
