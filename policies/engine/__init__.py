"""The empowerment policy engine: pure Python, standard library only.

The evaluation itself arrives with the policy issue (#4); ``money`` is already used by
cart ingestion to validate currencies and amounts.
"""
