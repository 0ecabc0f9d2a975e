"""Infrastructure every wing uses: errors, atomic writes, output policy, file reading, configs, progress, assets.

numpy and PyYAML only; matplotlib is imported lazily by ``plots`` alone.
"""
