from src.models.backbones import ConvBackbone, FlatBackbone
from src.models.clustering_vae import ClusteringVAE

__all__ = ["ClusteringVAE", "ConvBackbone", "FlatBackbone"]
