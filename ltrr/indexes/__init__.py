"""Search indexes wrapped by the arms: lexical (bm25s), dense (faiss) and attribute-sorted postings."""
