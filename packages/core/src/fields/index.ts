/**
 * `@sigil/core/structured-fields`: the RFC 9651 Structured Field Values parser and serializer
 * Sigil verifies with (differential-tested against `structured-headers`), for applications that
 * read or write structured header fields of their own.
 */
export {
  type BareItem,
  Decimal,
  type Dictionary,
  DisplayString,
  type InnerList,
  type Item,
  isInnerList,
  type List,
  type Parameters,
  parseDictionary,
  parseItemField,
  parseList,
  StructuredFieldError,
  StructuredFieldSerializeError,
  serializeDictionary,
  serializeInnerList,
  serializeItem,
  serializeList,
  Token,
} from '../structured-fields.js'
