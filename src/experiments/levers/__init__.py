"""The levers of the clustering VAE screened one at a time (sweeps/levers_<dataset>.yaml, conf/levers/)."""
