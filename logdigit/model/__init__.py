"""Segmentation networks. ``create_model(name, config)`` builds one from the registry."""

from logdigit.model.veernet import MODELS, VeerNet, VeerNetConfig, create_model

__all__ = ["MODELS", "VeerNet", "VeerNetConfig", "create_model"]
