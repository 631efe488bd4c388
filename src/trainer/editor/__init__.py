"""The content editors ' area (教材担当): item statistics, opinions, revision sheets."""
