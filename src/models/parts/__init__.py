"""Parts a model is assembled from, each chosen by config (conf/model/*.yaml):
encoders (image -> features), decoders (vector -> image), bottlenecks (in between)."""
from src.models.parts.bottlenecks import MixturePrior
from src.models.parts.decoders import ConvDecoder, FlatDecoder, StridedConvDecoder
from src.models.parts.encoders import ConvEncoder, FlatEncoder, StridedConvEncoder

__all__ = ["ConvDecoder", "ConvEncoder", "FlatDecoder", "FlatEncoder", "MixturePrior",
           "StridedConvDecoder", "StridedConvEncoder"]
