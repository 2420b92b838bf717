/** A tiny evaluator for the subset of CEL that CRD `x-kubernetes-validations` rules commonly use:
 * literals, `self` field access, has(), size(), ! && || == != < <= > >= + - * / %, ?:, `in`,
 * string startsWith/endsWith/contains/matches and the all/exists macros. Anything else makes the
 * rule unsupported, and the caller skips it (the real server would evaluate it). */

export class CelUnsupported extends Error {}
class CelEvalError extends Error {}

type Tok = { t: 'num' | 'str' | 'id' | 'op'; v: string };
type Node =
  | { k: 'lit'; v: unknown }
  | { k: 'id'; name: string }
  | { k: 'sel'; obj: Node; field: string }
  | { k: 'idx'; obj: Node; index: Node }
  | { k: 'call'; fn: string; target?: Node; args: Node[] }
  | { k: 'un'; op: string; arg: Node }
  | { k: 'bin'; op: string; l: Node; r: Node }
  | { k: 'cond'; c: Node; a: Node; b: Node }
  | { k: 'list'; items: Node[] };

function tokenize(src: string): Tok[] {
  const out: Tok[] = [];
  let i = 0;
  while (i < src.length) {
    const c = src[i];
    if (/\s/.test(c)) {
      i++;
      continue;
    }
    const m3 = src.slice(i, i + 2);
    if (['&&', '||', '==', '!=', '<=', '>='].includes(m3)) {
      out.push({ t: 'op', v: m3 });
      i += 2;
      continue;
    }
    if ('!<>+-*/%?:.()[],'.includes(c)) {
      out.push({ t: 'op', v: c });
      i++;
      continue;
    }
    if (c === '"' || c === "'") {
      let j = i + 1;
      let s = '';
      while (j < src.length && src[j] !== c) {
        if (src[j] === '\\') {
          j++;
          s += src[j] === 'n' ? '\n' : src[j];
        } else s += src[j];
        j++;
      }
      if (j >= src.length) throw new CelUnsupported('unterminated string');
      out.push({ t: 'str', v: s });
      i = j + 1;
      continue;
    }
    const num = /^\d+(\.\d+)?/.exec(src.slice(i));
    if (num) {
      out.push({ t: 'num', v: num[0] });
      i += num[0].length;
      if (src[i] === 'u') i++;
      continue;
    }
    const id = /^[A-Za-z_][A-Za-z0-9_]*/.exec(src.slice(i));
    if (id) {
      out.push({ t: 'id', v: id[0] });
      i += id[0].length;
      continue;
    }
    throw new CelUnsupported(`unexpected character ${c}`);
  }
  return out;
}

const BIN_PREC: Record<string, number> = { '||': 1, '&&': 2, '==': 3, '!=': 3, '<': 3, '<=': 3, '>': 3, '>=': 3, in: 3, '+': 4, '-': 4, '*': 5, '/': 5, '%': 5 };

function parse(src: string): Node {
  const toks = tokenize(src);
  let p = 0;
  const peek = (): Tok | undefined => toks[p];
  const isOp = (v: string): boolean => peek()?.t === 'op' && peek()?.v === v;
  const expect = (v: string): void => {
    if (!isOp(v)) throw new CelUnsupported(`expected ${v}`);
    p++;
  };
  const args = (): Node[] => {
    const a: Node[] = [];
    expect('(');
    if (!isOp(')')) {
      a.push(expr());
      while (isOp(',')) {
        p++;
        a.push(expr());
      }
    }
    expect(')');
    return a;
  };
  const primary = (): Node => {
    const t = toks[p++];
    if (!t) throw new CelUnsupported('unexpected end');
    if (t.t === 'num') return { k: 'lit', v: Number(t.v) };
    if (t.t === 'str') return { k: 'lit', v: t.v };
    if (t.t === 'id') {
      if (t.v === 'true' || t.v === 'false') return { k: 'lit', v: t.v === 'true' };
      if (t.v === 'null') return { k: 'lit', v: null };
      if (isOp('(')) return { k: 'call', fn: t.v, args: args() };
      return { k: 'id', name: t.v };
    }
    if (t.v === '(') {
      const e = expr();
      expect(')');
      return e;
    }
    if (t.v === '[') {
      const items: Node[] = [];
      if (!isOp(']')) {
        items.push(expr());
        while (isOp(',')) {
          p++;
          items.push(expr());
        }
      }
      expect(']');
      return { k: 'list', items };
    }
    if (t.v === '!' || t.v === '-') return { k: 'un', op: t.v, arg: postfix(primary()) };
    throw new CelUnsupported(`unexpected ${t.v}`);
  };
  const postfix = (n: Node): Node => {
    for (;;) {
      if (isOp('.')) {
        p++;
        const t = toks[p++];
        if (t?.t !== 'id') throw new CelUnsupported('expected field');
        n = isOp('(') ? { k: 'call', fn: t.v, target: n, args: args() } : { k: 'sel', obj: n, field: t.v };
      } else if (isOp('[')) {
        p++;
        const index = expr();
        expect(']');
        n = { k: 'idx', obj: n, index };
      } else return n;
    }
  };
  const binary = (minPrec: number): Node => {
    let l = postfix(primary());
    for (;;) {
      const t = peek();
      const op = t && (t.t === 'op' || (t.t === 'id' && t.v === 'in')) ? t.v : undefined;
      const prec = op ? BIN_PREC[op] : undefined;
      if (!op || prec === undefined || prec < minPrec) return l;
      p++;
      l = { k: 'bin', op, l, r: binary(prec + 1) };
    }
  };
  const expr = (): Node => {
    const c = binary(1);
    if (isOp('?')) {
      p++;
      const a = expr();
      expect(':');
      return { k: 'cond', c, a, b: expr() };
    }
    return c;
  };
  const e = expr();
  if (p !== toks.length) throw new CelUnsupported('trailing tokens');
  return e;
}

type Env = Record<string, unknown>;
const isObj = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

function evaluate(n: Node, env: Env): unknown {
  switch (n.k) {
    case 'lit':
      return n.v;
    case 'list':
      return n.items.map((i) => evaluate(i, env));
    case 'id':
      if (!(n.name in env)) throw new CelUnsupported(`unknown identifier ${n.name}`);
      return env[n.name];
    case 'sel': {
      const o = evaluate(n.obj, env);
      if (!isObj(o) || !(n.field in o)) throw new CelEvalError(`no such key: ${n.field}`);
      return o[n.field];
    }
    case 'idx': {
      const o = evaluate(n.obj, env);
      const i = evaluate(n.index, env);
      if (Array.isArray(o) && typeof i === 'number') {
        if (i < 0 || i >= o.length) throw new CelEvalError('index out of bounds');
        return o[i];
      }
      if (isObj(o) && typeof i === 'string') {
        if (!(i in o)) throw new CelEvalError(`no such key: ${i}`);
        return o[i];
      }
      throw new CelEvalError('invalid index');
    }
    case 'un': {
      const v = evaluate(n.arg, env);
      if (n.op === '!') {
        if (typeof v !== 'boolean') throw new CelEvalError('no such overload');
        return !v;
      }
      if (typeof v !== 'number') throw new CelEvalError('no such overload');
      return -v;
    }
    case 'cond':
      return evaluate(n.c, env) ? evaluate(n.a, env) : evaluate(n.b, env);
    case 'bin':
      return binop(n, env);
    case 'call':
      return call(n, env);
  }
}

function equal(a: unknown, b: unknown): boolean {
  return JSON.stringify(a) === JSON.stringify(b);
}

function binop(n: Extract<Node, { k: 'bin' }>, env: Env): unknown {
  if (n.op === '&&' || n.op === '||') {
    // CEL's logical operators are commutative over errors; short-circuit is close enough here.
    const l = evaluate(n.l, env);
    if (n.op === '&&' && l === false) return false;
    if (n.op === '||' && l === true) return true;
    return Boolean(evaluate(n.r, env));
  }
  const l = evaluate(n.l, env);
  const r = evaluate(n.r, env);
  switch (n.op) {
    case '==':
      return equal(l, r);
    case '!=':
      return !equal(l, r);
    case 'in':
      if (Array.isArray(r)) return r.some((x) => equal(x, l));
      if (isObj(r)) return typeof l === 'string' && l in r;
      throw new CelEvalError('no such overload');
    case '+':
      if (Array.isArray(l) && Array.isArray(r)) return [...l, ...r];
      if (typeof l === 'string' && typeof r === 'string') return l + r;
      break;
  }
  if (typeof l === 'number' && typeof r === 'number') {
    switch (n.op) {
      case '<': return l < r;
      case '<=': return l <= r;
      case '>': return l > r;
      case '>=': return l >= r;
      case '+': return l + r;
      case '-': return l - r;
      case '*': return l * r;
      case '/': return Math.trunc(l / r);
      case '%': return l % r;
    }
  }
  if (typeof l === 'string' && typeof r === 'string') {
    switch (n.op) {
      case '<': return l < r;
      case '<=': return l <= r;
      case '>': return l > r;
      case '>=': return l >= r;
    }
  }
  throw new CelEvalError(`no such overload for ${n.op}`);
}

function call(n: Extract<Node, { k: 'call' }>, env: Env): unknown {
  if (n.fn === 'has' && !n.target) {
    const a = n.args[0];
    if (n.args.length !== 1 || a.k !== 'sel') throw new CelUnsupported('has() needs a field selection');
    const o = evaluate(a.obj, env);
    return isObj(o) && a.field in o;
  }
  if ((n.fn === 'all' || n.fn === 'exists' || n.fn === 'exists_one') && n.target) {
    const coll = evaluate(n.target, env);
    const v = n.args[0];
    if (n.args.length !== 2 || v.k !== 'id') throw new CelUnsupported('bad macro');
    const items = Array.isArray(coll) ? coll : isObj(coll) ? Object.keys(coll) : undefined;
    if (!items) throw new CelEvalError('no such overload');
    const results = items.map((it) => evaluate(n.args[1], { ...env, [v.name]: it }) === true);
    if (n.fn === 'all') return results.every(Boolean);
    if (n.fn === 'exists') return results.some(Boolean);
    return results.filter(Boolean).length === 1;
  }
  const target = n.target ? evaluate(n.target, env) : undefined;
  const args = n.args.map((a) => evaluate(a, env));
  const subject = n.target ? target : args.shift();
  switch (n.fn) {
    case 'size':
      if (typeof subject === 'string' || Array.isArray(subject)) return subject.length;
      if (isObj(subject)) return Object.keys(subject).length;
      throw new CelEvalError('no such overload');
    case 'startsWith':
      return String(subject).startsWith(String(args[0]));
    case 'endsWith':
      return String(subject).endsWith(String(args[0]));
    case 'contains':
      return String(subject).includes(String(args[0]));
    case 'matches':
      return new RegExp(String(args[0])).test(String(subject));
    case 'int':
      return Math.trunc(Number(subject));
    case 'string':
      return String(subject);
  }
  throw new CelUnsupported(`unsupported function ${n.fn}`);
}

/** Rules parse once (a CRD's rules run on every write); a rule that does not parse throws each time, as before. */
const parsedRules = new Map<string, { ast: Node } | { error: unknown }>();
function parsed(rule: string): Node {
  let p = parsedRules.get(rule);
  if (!p) {
    try {
      p = { ast: parse(rule) };
    } catch (error) {
      p = { error };
    }
    if (parsedRules.size > 10_000) parsedRules.clear();
    parsedRules.set(rule, p);
  }
  if ('error' in p) throw p.error;
  return p.ast;
}

/** true/false for a rule's outcome; CelUnsupported when the rule is outside the subset. */
export function evalRule(rule: string, self: unknown, oldSelf?: unknown): boolean {
  const ast = parsed(rule);
  const env: Env = { self };
  if (oldSelf !== undefined) env.oldSelf = oldSelf;
  try {
    return evaluate(ast, env) === true;
  } catch (e) {
    if (e instanceof CelUnsupported) throw e;
    return false;
  }
}
