"""Parts a model is assembled from, each chosen by config (conf/model/*.yaml):
encoders (image -> features), decoders (vector -> image), bottlenecks (in between)."""
from src.models.parts.bottlenecks import Code, GaussianCode, MixturePrior, QuantizedCode, SparseCode
from src.models.parts.decoders import ConvDecoder, DenseDecoder, FlatDecoder, StridedConvDecoder
from src.models.parts.encoders import ConvEncoder, DenseEncoder, FlatEncoder, StridedConvEncoder

__all__ = ["Code", "ConvDecoder", "ConvEncoder", "DenseDecoder", "DenseEncoder", "FlatDecoder", "FlatEncoder",
           "GaussianCode", "MixturePrior", "QuantizedCode", "SparseCode", "StridedConvDecoder", "StridedConvEncoder"]
