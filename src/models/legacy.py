"""Model configs of run directories written before the parts layout, in today's form.

Those config.yaml files hold `{_target_: src.models.ClusteringVAE, backbone: {_target_:
src.models.ConvBackbone | src.models.FlatBackbone, ...}, latent, hidden, lr, ...}`; their
checkpoints load into today's model (ClusteringVAE migrates the state-dict keys).
"""
from omegaconf import DictConfig, OmegaConf

BACKBONES = {"src.models.ConvBackbone": ("ConvEncoder", "ConvDecoder"),
             "src.models.FlatBackbone": ("FlatEncoder", "FlatDecoder")}


def upgrade(model: DictConfig) -> DictConfig:
    """`model` itself when it has no `backbone` key, else the same model in today's keys."""
    if "backbone" not in model:
        return model
    old = OmegaConf.to_container(model, resolve=True)
    backbone = old.pop("backbone")
    encoder, decoder = BACKBONES[backbone.pop("_target_")]
    bottleneck = {"_target_": "src.models.parts.MixturePrior", "_partial_": True,
                  **{k: old.pop(k) for k in ("latent", "hidden", "classifier_hidden", "prior") if k in old}}
    lr = old.pop("lr", 1e-3)
    return OmegaConf.create({
        **old, "encoder": {"_target_": f"src.models.parts.{encoder}", **backbone},
        "decoder": {"_target_": f"src.models.parts.{decoder}", **backbone}, "bottleneck": bottleneck,
        "optimizer": {"_target_": "torch.optim.Adam", "_partial_": True, "lr": lr, "fused": True}})
