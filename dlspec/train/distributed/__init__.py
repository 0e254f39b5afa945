"""Training on several processes with torch.distributed, launched by torchrun.

    env.py        what torchrun tells a process (rank, world size), read without torch
    launch.py     `dlspec train --nproc N`: torchrun's elastic launcher on one machine
    ranks.py      the process group a run joins, and its collectives (sums, broadcasts)
    sharding.py   each global micro-batch cut into one piece per process; split shards
    strategy.py   the model wrapped for its strategy (DDP; FSDP plugs in here)
    evaluation.py validation and test numbers reduced across the processes
    quiet.py      what the processes other than rank 0 write: nothing

Every process draws the same global sample order (the same seeded generator) and trains on
its piece of each global micro-batch; the loss of a piece is weighted so that the averaged
gradient is the gradient of the whole global batch. Only rank 0 writes the run folder.
See docs/distributed.md.
"""
