"""Declarative field mappings: source records → canonical records.

``load_mapping_set`` (or ``compile_documents``) checks and compiles every mapping
file once; ``MappingSet.find(connector, object).apply(payload)`` maps one record
and raises ``RecordMappingError`` (only) when it cannot.
"""

from chalicelib.mapping.compiler import CompiledMapping, MappingSet, compile_documents, load_mapping_set

__all__ = ["CompiledMapping", "MappingSet", "compile_documents", "load_mapping_set"]
