/**
 * The object form of `where` that database calls accept, and its translation to the wire
 * form of protocol/SPEC.md §9.4 (the one language of change feeds and table verbs,
 * docs/databases.md). Pure.
 *
 * Rules (the Python SDK's `where(...)` keywords mean the same):
 *
 * 1. An object's members are conditions that must all hold, in the object's key order:
 *    `{ id: "u1" }` is `["id", "eq", "u1"]`; `{ id: ["a", "b"] }` is `["id", "in", ["a",
 *    "b"]]`; `{ age: { gte: 18, lt: 65 } }` is one condition per operator, in order
 *    (`["age", "gte", 18], ["age", "lt", 65]`).
 * 2. The member `or` holds a non-empty array of alternatives, each an object or an array
 *    of the wire form: `{ or: [{ role: "admin" }, { id: "u1" }] }` is
 *    `{"or": [[["role", "eq", "admin"]], [["id", "eq", "u1"]]]}`. A column really named
 *    `or` is reached with the wire form.
 * 3. An array is the wire form already: it is copied and sent as is (the hub judges it).
 * 4. A member whose value is `undefined` is a `TypeError`, not left out: a condition
 *    silently dropped would widen an `update` or a `delete` to more rows. `null` means
 *    IS NULL (`eq`).
 * 5. The hub checks the rest (unknown columns, kinds of values, the limits of §9.4) and
 *    answers `invalid_arguments` (table verbs) or `bad_subscription` (feeds).
 */

import type { Json, Scalar, Where, WhereOp } from "./frames.js";

/** The operators of `where`, in the order of SPEC §9.4. */
export const WHERE_OPS: readonly WhereOp[] = Object.freeze(["eq", "neq", "lt", "lte", "gt", "gte", "in", "like"]);

/** Operators on one column: `{ gte: 18, lt: 65 }`, `{ like: "%@acme.com" }`, `{ in: ["a", "b"] }`. */
export interface WhereOps<V extends Scalar = Scalar> {
  eq?: V | null;
  neq?: V | null;
  lt?: V;
  lte?: V;
  gt?: V;
  gte?: V;
  in?: readonly (V | null)[];
  like?: string;
}

/** A column's value type as a scalar (booleans and numbers stay, anything else: its scalar part). */
type ColumnScalar<V> = Extract<NonNullable<V>, Scalar> extends never ? Scalar : Extract<NonNullable<V>, Scalar>;

/**
 * The object form of `where` for rows of type `R`: each member a column's value (equality)
 * or its operators, and `or` for alternatives. Rows without a declared type (an index
 * signature, as `DbRow`) take any column name.
 */
export type WhereObject<R extends object = Record<string, Scalar>> = string extends keyof R
  ? { readonly [column: string]: Scalar | readonly Scalar[] | WhereOps | readonly WhereInput<R>[] | undefined }
  : {
      readonly [K in keyof R & string]?: ColumnScalar<R[K]> | null | readonly (ColumnScalar<R[K]> | null)[] | WhereOps<ColumnScalar<R[K]>>;
    } & {
      readonly or?: readonly WhereInput<R>[];
    };

/** What database calls accept as `where`: the object form, or the wire form (SPEC §9.4). */
export type WhereInput<R extends object = Record<string, Scalar>> = WhereObject<R> | Where;

function isScalar(value: unknown): value is Scalar {
  return value === null || typeof value === "string" || typeof value === "boolean" || Number.isFinite(value);
}

function isPlainObject(value: unknown): value is Readonly<Record<string, unknown>> {
  if (typeof value !== "object" || value === null || Array.isArray(value)) return false;
  const prototype = Object.getPrototypeOf(value) as unknown;
  return prototype === Object.prototype || prototype === null;
}

function describe(value: unknown): string {
  if (value === null) return "null";
  if (Array.isArray(value)) return "an array";
  if (typeof value === "object") return `an object (${Object.getPrototypeOf(value)?.constructor?.name ?? "no prototype"})`;
  return typeof value === "number" ? String(value) : typeof value;
}

function operators(column: string, ops: Readonly<Record<string, unknown>>, into: Json[]): void {
  const entries = Object.entries(ops);
  if (entries.length === 0) throw new TypeError(`where.${column} is an empty object: give a value or operators (${WHERE_OPS.join(", ")})`);
  for (const [op, value] of entries) {
    if (!(WHERE_OPS as readonly string[]).includes(op)) {
      throw new TypeError(`where.${column}: unknown operator ${JSON.stringify(op)}, expected one of ${WHERE_OPS.join(", ")}`);
    }
    if (op === "in") {
      if (!Array.isArray(value) || !value.every(isScalar)) {
        throw new TypeError(`where.${column}.in must be an array of strings, numbers, booleans or null, got ${describe(value)}`);
      }
      into.push([column, op, [...value]]);
    } else {
      if (!isScalar(value)) {
        throw new TypeError(`where.${column}.${op} must be a string, number, boolean or null, got ${describe(value)}`);
      }
      into.push([column, op, value]);
    }
  }
}

/**
 * The wire form (SPEC §9.4) of `where`: an object translated by the rules above, an array
 * copied, `undefined` an empty array (every row). Throws `TypeError` for what cannot be
 * translated.
 */
export function whereArray<R extends object = Record<string, Scalar>>(where: WhereInput<NoInfer<R>> | undefined): Where {
  if (where === undefined) return [];
  if (Array.isArray(where)) {
    const text = JSON.stringify(where); // TypeError for a BigInt or a cycle
    if (text === undefined) throw new TypeError("where is not JSON");
    return JSON.parse(text) as Where;
  }
  if (!isPlainObject(where)) {
    throw new TypeError(`where must be an object of columns or an array of conditions, got ${describe(where)}`);
  }
  const conditions: Json[] = [];
  for (const [column, value] of Object.entries(where)) {
    if (column === "or") {
      if (!Array.isArray(value) || value.length === 0) {
        throw new TypeError(`where.or must be a non-empty array of alternatives, got ${describe(value)}`);
      }
      conditions.push({ or: value.map((branch: unknown) => whereArray(branch as WhereInput)) as Json[] });
    } else if (value === undefined) {
      throw new TypeError(`where.${column} is undefined: leave the member out, or use null for IS NULL`);
    } else if (isScalar(value)) {
      conditions.push([column, "eq", value]);
    } else if (Array.isArray(value)) {
      operators(column, { in: value }, conditions);
    } else if (isPlainObject(value)) {
      operators(column, value, conditions);
    } else {
      throw new TypeError(`where.${column} must be a string, number, boolean, null or an object of operators, got ${describe(value)}`);
    }
  }
  return conditions as Where;
}
