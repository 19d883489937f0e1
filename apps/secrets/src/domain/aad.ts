/**
 * Unambiguous AAD for AES-GCM: each field as a 4-byte big-endian length and its UTF-8 bytes, so
 * no choice of field values can make two different bindings produce the same bytes. Shared by
 * the key file (master keys wrapped under the unseal key) and the envelopes (values, data keys).
 */
export function lengthPrefixed(fields: readonly string[]): Buffer {
  return Buffer.concat(
    fields.flatMap((f) => {
      const bytes = Buffer.from(f, 'utf8');
      const len = Buffer.alloc(4);
      len.writeUInt32BE(bytes.length);
      return [len, bytes];
    }),
  );
}
