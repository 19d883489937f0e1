import type * as grpc from '@grpc/grpc-js';
import type { PackageDefinition } from '@grpc/proto-loader';

/**
 * What a request deserialiser returns instead of throwing when the bytes are not a valid
 * message of the RPC's request type. grpc-js answers a throwing deserialiser with INTERNAL, and
 * may do so before the caller check; the handler adapter turns this into INVALID_ARGUMENT
 * after the gatekeeper has admitted the caller (issue 17 items 5 and 6).
 */
export class MalformedRequest {
  constructor(readonly problem: string) {}
}

interface FieldPlan {
  name: string;
  /** The wire type a value of this field is written with. */
  wireType: number;
  /** Repeated numeric fields may also come packed (wire type 2). */
  packable: boolean;
  /** Full name of the message type, for message fields (checked recursively). */
  message?: string;
}

type Plan = Map<number, FieldPlan>;

/** The descriptor shape proto-loader produces (enums and types as strings). */
interface FieldDescriptor {
  name: string;
  number: number;
  label: string;
  type: string;
  typeName: string;
}
interface MessageDescriptor {
  field: FieldDescriptor[];
}

const WIRE_OF: Record<string, number> = {
  TYPE_DOUBLE: 1,
  TYPE_FIXED64: 1,
  TYPE_SFIXED64: 1,
  TYPE_FLOAT: 5,
  TYPE_FIXED32: 5,
  TYPE_SFIXED32: 5,
  TYPE_INT64: 0,
  TYPE_UINT64: 0,
  TYPE_INT32: 0,
  TYPE_UINT32: 0,
  TYPE_BOOL: 0,
  TYPE_ENUM: 0,
  TYPE_SINT32: 0,
  TYPE_SINT64: 0,
  TYPE_STRING: 2,
  TYPE_BYTES: 2,
  TYPE_MESSAGE: 2,
  TYPE_GROUP: 3,
};
const WIRE_NAME = ['varint', '64-bit', 'length-delimited', 'start-group', 'end-group', '32-bit', 'invalid (6)', 'invalid (7)'];
const MAX_DEPTH = 32;

/**
 * Checks request bytes against the request type's descriptor before the lenient generated
 * decoder sees them. ts-proto's decoder stops at a tag 0 and silently skips a known field sent
 * with another wire type, so a hostile payload decoded into a near-empty request and read RPCs
 * ran with their filters dropped. Here such a payload is refused, naming the field. Unknown
 * field numbers with a valid wire type are accepted (a newer client), as protobuf requires.
 */
export class WireChecker {
  private readonly plans = new Map<string, Plan>();

  constructor(private readonly pd: PackageDefinition) {}

  /** The first problem of `buf` as a `typeName` message, or undefined if it is well-formed. */
  check(typeName: string, buf: Uint8Array): string | undefined {
    try {
      return this.walk(typeName, buf, 0, buf.length, 0);
    } catch (err) {
      return err instanceof Truncated ? err.message : 'the message could not be parsed';
    }
  }

  /**
   * A copy of the definition whose request deserialisers check the wire format first and never
   * throw: a bad payload becomes a {@link MalformedRequest}.
   */
  wrap(serviceName: string, definition: grpc.ServiceDefinition): grpc.ServiceDefinition {
    const service = this.pd[serviceName] as Record<string, { requestType?: { type?: { name?: string } } }> | undefined;
    const out: Record<string, grpc.MethodDefinition<unknown, unknown>> = {};
    for (const [key, def] of Object.entries(definition)) {
      const rpc = def.path.slice(def.path.lastIndexOf('/') + 1);
      const typeName = this.fullNameOf(serviceName, service?.[rpc]);
      const original = def.requestDeserialize;
      out[key] = {
        ...def,
        requestDeserialize: (bytes: Buffer) => {
          const problem = typeName === undefined ? undefined : this.check(typeName, bytes);
          if (problem !== undefined) return new MalformedRequest(problem);
          try {
            return original(bytes);
          } catch {
            return new MalformedRequest('the message could not be decoded');
          }
        },
      };
    }
    return out as grpc.ServiceDefinition;
  }

  private fullNameOf(serviceName: string, method: { requestType?: { type?: { name?: string } } } | undefined): string | undefined {
    const short = method?.requestType?.type?.name;
    if (!short) return undefined;
    const pkg = serviceName.slice(0, serviceName.lastIndexOf('.'));
    return this.resolve(pkg, short);
  }

  /** Resolves a (possibly relative) type name from `scope` outwards, as protobuf does. */
  private resolve(scope: string, name: string): string | undefined {
    if (name.startsWith('.')) return this.pd[name.slice(1)] ? name.slice(1) : undefined;
    let s = scope;
    for (;;) {
      const candidate = s ? `${s}.${name}` : name;
      if (this.pd[candidate]) return candidate;
      if (!s) return undefined;
      s = s.includes('.') ? s.slice(0, s.lastIndexOf('.')) : '';
    }
  }

  private planOf(typeName: string): Plan | undefined {
    const cached = this.plans.get(typeName);
    if (cached) return cached;
    const entry = this.pd[typeName] as { type?: MessageDescriptor } | undefined;
    if (!entry?.type?.field) return undefined;
    const plan: Plan = new Map();
    for (const f of entry.type.field) {
      const wireType = WIRE_OF[f.type] ?? 2;
      const repeated = f.label === 'LABEL_REPEATED';
      const message = f.type === 'TYPE_MESSAGE' ? this.resolve(typeName, f.typeName) : undefined;
      plan.set(f.number, { name: f.name, wireType, packable: repeated && wireType !== 2, ...(message ? { message } : {}) });
    }
    this.plans.set(typeName, plan);
    return plan;
  }

  private walk(typeName: string, buf: Uint8Array, start: number, end: number, depth: number): string | undefined {
    if (depth > MAX_DEPTH) return `messages are nested more than ${MAX_DEPTH} deep`;
    const plan = this.planOf(typeName);
    let pos = start;
    while (pos < end) {
      const [tag, afterTag] = varint(buf, pos, end);
      pos = afterTag;
      const field = Math.floor(tag / 8);
      const wire = tag % 8;
      if (field === 0) return 'field number 0 (tag 0) is not allowed';
      if (wire === 3 || wire === 4 || wire > 5) return `field ${field} has wire type ${WIRE_NAME[wire]}, which requests never use`;
      const known = plan?.get(field);
      if (known && wire !== known.wireType && !(known.packable && wire === 2)) {
        return `field ${field} (${known.name}) has wire type ${WIRE_NAME[wire]}, expected ${WIRE_NAME[known.wireType]}`;
      }
      switch (wire) {
        case 0:
          pos = varint(buf, pos, end)[1];
          break;
        case 1:
          pos += 8;
          break;
        case 5:
          pos += 4;
          break;
        default: {
          const [len, afterLen] = varint(buf, pos, end);
          if (len > end - afterLen) throw new Truncated(`field ${field} is longer than the message`);
          if (known?.message) {
            const problem = this.walk(known.message, buf, afterLen, afterLen + len, depth + 1);
            if (problem !== undefined) return `${known.name}: ${problem}`;
          }
          pos = afterLen + len;
        }
      }
      if (pos > end) throw new Truncated(`field ${field} is cut short`);
    }
    return undefined;
  }
}

class Truncated extends Error {}

/** A base-128 varint at `pos` (at most 10 bytes); [value, next position]. Values above 2^53 lose precision, which tags never reach. */
function varint(buf: Uint8Array, pos: number, end: number): [number, number] {
  let value = 0;
  let mul = 1;
  for (let i = 0; i < 10; i++) {
    if (pos >= end) throw new Truncated('the message ends inside a varint');
    const b = buf[pos++] as number;
    value += (b & 0x7f) * mul;
    if ((b & 0x80) === 0) return [value, pos];
    mul *= 128;
  }
  throw new Truncated('a varint is longer than 10 bytes');
}
