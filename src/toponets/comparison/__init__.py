"""The paper's numbers next to this run's (`compare.compare`): one module per paper item (figure_01 ...
unit_to_voxel, as in `compare.ITEMS`), joined by id to the entries of ``paper_numbers.yaml`` (`paper`).

Kept free of imports so that a job needing only the paper's side (the prior-models table) imports `paper`
alone.
"""
