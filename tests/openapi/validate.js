#!/usr/bin/env node
/*
 * validate.js - checks recorded REST API responses against Airflow's v1
 * OpenAPI spec, strictly: every property the spec declares for a response
 * must be there, and nothing it does not declare may be.
 *
 *   node validate.js [--routes ROUTES.tsv] SPEC.yaml RECORDS.tsv
 *
 * RECORDS.tsv has one response a line, tab-separated:
 *
 *   METHOD  PATH-AS-REQUESTED  SPEC-TEMPLATE  STATUS  CONTENT-TYPE  BODY-FILE
 *
 * SPEC-TEMPLATE is the spec's path (/dags/{dag_id}) or "-": then it is found
 * from the route table given with --routes (`updraft-webserver --routes`;
 * the first row whose method and
 * pattern match, as the webserver's dispatcher picks it; the spec path whose
 * literal segments equal the pattern's and whose {name} segments stand where
 * the pattern has {}), or without --routes from the spec's paths alone. With
 * --routes, every row of the table must also have at least one recorded 2xx
 * answer, so that a route without coverage fails.
 *
 * How a response is checked:
 * - the operation (template + method) and its response for the status, or the
 *   operation's `default` response; an undeclared status is a failure, except
 *   404 for a path the spec does not have and 405 for a method it does not
 *   (checked against components/responses NotFound and MethodNotAllowed),
 *   400 on any operation (BadRequest: Airflow's request validation answers
 *   it everywhere) and the statuses in UNDECLARED_STATUSES below;
 * - the content type must be one the response declares (the RFC 7807 type
 *   application/problem+json stands for a declared application/json);
 * - a JSON body is validated by ajv against the response's schema made strict:
 *   $ref resolved, allOf merged into one object, every declared property
 *   required, additionalProperties false, writeOnly properties removed (so a
 *   response that carries one fails), `nullable: true` turned into "or null",
 *   a discriminator's property held to the name of its branch.
 *   Objects the spec leaves free-form (no properties) stay free-form.
 *
 * Each failure is printed as "FAIL METHOD PATH STATUS: where: what"; the exit
 * status is 1 when any response failed.
 */
'use strict';

const fs = require('fs');
const path = require('path');
const yaml = require('js-yaml');
/* Debian 12's node-ajv (6.12) and node-js-yaml (4.1), from /usr/share/nodejs
 * (the test sets NODE_PATH): installed by apt like the rest, no registry needed. */
const Ajv = require('ajv');

/*
 * Deliberate extensions: properties updraft adds to a spec schema, each
 * with its reason. They are optional properties of that schema here; keep
 * this list as small as possible.
 */
const JOB = {
  hostname: {type: 'string'},
  pid: {type: 'integer'},
  latest_heartbeat: {type: 'string', format: 'date-time', nullable: true},
  status: {type: 'string', enum: ['healthy', 'unhealthy']},
};
const EXTENSIONS = {
  /* The DAG version a run uses (Airflow 3's DAGRunResponse lists it in
   * dag_versions): the web UI opens that version's code from the run. */
  DAGRun: {
    dag_version_id: {type: 'string'},
    version_number: {type: 'integer', nullable: true},
  },
  /* /health lists every scheduler and worker with its last heartbeat (and
   * a worker its queues), so that one probe shows a cluster (docs/api.md).
   * Their own shape is held as strictly as the spec's. */
  HealthInfo: {
    schedulers: {type: 'array', items: {type: 'object', properties: JOB}},
    workers: {
      type: 'array',
      items: {type: 'object', properties: {...JOB, queues: {type: 'array', items: {type: 'string'}}}},
    },
  },
};

/*
 * Where Airflow 2 itself answers null for a property its spec does not
 * mark nullable: schema name -> properties. Keep it as small as possible.
 */
const NULLABLE_IN_PRACTICE = {
  /* TaskSchema's sub_dag is a Nested(DAGSchema) that marshmallow dumps as
   * null for every task that is not a SubDagOperator (all of updraft's). */
  Task: ['sub_dag'],
};

/* target with the NULLABLE_IN_PRACTICE properties of schema `name` made nullable. */
function withNullable(target, name) {
  const props = NULLABLE_IN_PRACTICE[name];
  if (!props || !target.properties) return target;
  const out = {...target, properties: {...target.properties}};
  for (const p of props) out.properties[p] = {anyOf: [{type: 'null'}, target.properties[p]]};
  return out;
}

/*
 * Statuses Airflow itself answers that its spec does not declare for the
 * operation, checked against the named components/responses entry.
 */
const UNDECLARED_STATUSES = {
  /* Airflow's post_pool and post_connection raise AlreadyExists on a
   * duplicate name (409), which the spec leaves out. */
  'post /pools 409': 'AlreadyExists',
  'post /connections 409': 'AlreadyExists',
};

/* ---- route table ---------------------------------------------------------- */

/*
 * Reads the route table as `updraft-webserver --routes` prints it: one route
 * a line, METHOD TAB PATTERN TAB permission columns. The browser pages
 * (/login, /logout, /) and the web UI's own JSON reads (/ui/..., checked
 * by integration/test_ui_data.sh) are not part of the REST API and are
 * left out.
 */
function readRoutes(file) {
  const routes = [];
  for (const line of fs.readFileSync(file, 'utf8').split('\n')) {
    const [method, pattern] = line.split('\t');
    if (!method || !pattern) continue;
    if (!pattern.startsWith('/api/v1') && pattern !== '/health') continue;
    routes.push({method, pattern});
  }
  if (routes.length === 0) throw new Error(`${file}: no routes read`);
  return routes;
}

const segments = (p) => p.split('?')[0].split('/').filter((s) => s !== '');

/* The webserver's matcher: "{}" takes any one segment. */
function patternMatches(pattern, reqPath) {
  const ps = segments(pattern);
  let rs;
  try {
    rs = segments(reqPath).map(decodeURIComponent);
  } catch (e) {
    return false;
  }
  return ps.length === rs.length && ps.every((s, i) => s === '{}' || s === rs[i]);
}

/* The spec path a route pattern serves, or null. */
function specTemplate(spec, pattern) {
  const ps = segments(pattern);
  if (ps[0] === 'api' && ps[1] === 'v1') ps.splice(0, 2);
  for (const t of Object.keys(spec.paths)) {
    const ts = segments(t);
    if (ts.length !== ps.length) continue;
    if (ts.every((s, i) => (ps[i] === '{}' ? /^\{\w+\}$/.test(s) : s === ps[i]))) return t;
  }
  return null;
}

/*
 * The spec path a request's path falls under, without a route table: the
 * template whose segments match, the one with the most literal segments
 * when several do (listMapped before {map_index}).
 */
function specTemplateOfPath(spec, reqPath) {
  let rs;
  try {
    rs = segments(reqPath).map(decodeURIComponent);
  } catch (e) {
    return null;
  }
  if (rs[0] === 'api' && rs[1] === 'v1') rs.splice(0, 2);
  let best = null;
  let bestLiterals = -1;
  for (const t of Object.keys(spec.paths)) {
    const ts = segments(t);
    if (ts.length !== rs.length) continue;
    if (!ts.every((seg, i) => /^\{\w+\}$/.test(seg) || seg === rs[i])) continue;
    const literals = ts.filter((seg) => !/^\{\w+\}$/.test(seg)).length;
    if (literals > bestLiterals) {
      best = t;
      bestLiterals = literals;
    }
  }
  return best;
}

/* ---- strict schemas --------------------------------------------------------- */

function resolveRef(spec, ref) {
  if (!ref.startsWith('#/')) throw new Error(`external $ref not supported: ${ref}`);
  let node = spec;
  for (const part of ref.slice(2).split('/')) {
    node = node[part.replace(/~1/g, '/').replace(/~0/g, '~')];
    if (node === undefined) throw new Error(`unresolved $ref ${ref}`);
  }
  return node;
}

/* Keywords that annotate only (ajv would reject or ignore them). */
const ANNOTATIONS = ['nullable', 'readOnly', 'writeOnly', 'discriminator', 'example', 'deprecated',
  'description', 'xml', 'externalDocs', 'default', 'title'];

function isWriteOnly(spec, s) {
  while (s && s.$ref) s = resolveRef(spec, s.$ref);
  return Boolean(s && s.writeOnly);
}

/*
 * One schema made strict (see the top). `seen` holds the $refs being
 * expanded, so that a recursive schema is reported instead of looping.
 */
function strict(spec, schema, seen = []) {
  if (schema === true || schema === false || schema === undefined) return schema;
  if (schema.$ref) {
    if (seen.includes(schema.$ref)) throw new Error(`recursive schema ${schema.$ref}`);
    let target = resolveRef(spec, schema.$ref);
    const name = schema.$ref.match(/^#\/components\/schemas\/(.+)$/);
    if (name && EXTENSIONS[name[1]]) target = withExtensions(target, EXTENSIONS[name[1]]);
    if (name) target = withNullable(target, name[1]);
    return strict(spec, target, seen.concat(schema.$ref));
  }
  let s = {...schema};
  if (s.allOf) s = mergeAllOf(spec, s, seen);

  const nullable = s.nullable === true;
  const discriminator = s.discriminator;
  for (const k of ANNOTATIONS) delete s[k];

  if (s.properties) {
    const props = {};
    for (const [k, v] of Object.entries(s.properties)) {
      if (isWriteOnly(spec, v)) continue;
      props[k] = strict(spec, v, seen);
    }
    const optional = new Set(s['x-optional'] || []);
    delete s['x-optional'];
    s.properties = props;
    s.required = Object.keys(props).filter((k) => !optional.has(k));
    s.additionalProperties = false;
    if (!s.type) s.type = 'object';
  } else if (s.additionalProperties && typeof s.additionalProperties === 'object') {
    s.additionalProperties = strict(spec, s.additionalProperties, seen);
  }
  if (s.items) s.items = strict(spec, s.items, seen);
  for (const k of ['anyOf', 'oneOf']) {
    if (!s[k]) continue;
    const branches = s[k];
    s[k] = branches.map((b) => strict(spec, b, seen));
    if (discriminator) s[k] = s[k].map((b, i) => discriminate(b, branches[i], discriminator));
  }
  if (s.not) s.not = strict(spec, s.not, seen);

  if (!nullable) return s;
  if (s.enum) s.enum = s.enum.includes(null) ? s.enum : s.enum.concat([null]);
  if (typeof s.type === 'string' && !s.anyOf && !s.oneOf) {
    s.type = [s.type, 'null'];
    return s;
  }
  return {anyOf: [{type: 'null'}, s]};
}

/*
 * A discriminator's property names the branch: the branch schema's name, or
 * the value its mapping gives it. The branch (made strict) then requires
 * that value, so {"__type": "CronExpression", ...} cannot pass as a
 * TimeDelta's shape or the other way round.
 */
function discriminate(branch, original, discriminator) {
  const name = original.$ref && original.$ref.match(/^#\/components\/schemas\/(.+)$/);
  if (!name || !branch.properties || !branch.properties[discriminator.propertyName]) return branch;
  let value = name[1];
  for (const [v, ref] of Object.entries(discriminator.mapping || {})) if (ref === original.$ref) value = v;
  const b = {...branch, properties: {...branch.properties}};
  b.properties[discriminator.propertyName] = {...b.properties[discriminator.propertyName], const: value};
  return b;
}

/* A schema with the extension properties added as optional ones. */
function withExtensions(schema, ext) {
  const s = {...schema};
  s.properties = {...(s.properties || {}), ...ext};
  s['x-optional'] = (s['x-optional'] || []).concat(Object.keys(ext));
  return s;
}

/*
 * allOf of objects merged into one object, so that additionalProperties
 * false sees every member's properties. A member that is not an object
 * (no properties, no allOf) is kept as an allOf constraint beside it.
 */
function mergeAllOf(spec, schema, seen) {
  const out = {...schema};
  delete out.allOf;
  const rest = [];
  const props = {...(schema.properties || {})};
  const optional = [...(schema['x-optional'] || [])];
  const required = new Set(schema.required || []);
  for (let m of schema.allOf) {
    const mseen = seen.slice();
    while (m.$ref) {
      if (mseen.includes(m.$ref)) throw new Error(`recursive schema ${m.$ref}`);
      mseen.push(m.$ref);
      const name = m.$ref.match(/^#\/components\/schemas\/(.+)$/);
      let target = resolveRef(spec, m.$ref);
      if (name && EXTENSIONS[name[1]]) target = withExtensions(target, EXTENSIONS[name[1]]);
      if (name) target = withNullable(target, name[1]);
      m = target;
    }
    if (m.allOf) m = mergeAllOf(spec, m, mseen);
    if (!m.properties) {
      rest.push(m);
      continue;
    }
    Object.assign(props, m.properties);
    optional.push(...(m['x-optional'] || []));
    for (const r of m.required || []) required.add(r);
    if (m.type && !out.type) out.type = m.type;
    if (m.nullable && out.nullable === undefined) out.nullable = m.nullable;
  }
  out.properties = props;
  if (optional.length) out['x-optional'] = optional;
  if (required.size) out.required = [...required];
  if (rest.length) out.allOf = rest;
  return out;
}

/* ---- responses ---------------------------------------------------------------- */

function readRecords(file) {
  return fs
    .readFileSync(file, 'utf8')
    .split('\n')
    .filter((l) => l.trim() !== '')
    .map((line, i) => {
      const f = line.split('\t');
      if (f.length !== 6) throw new Error(`${file}:${i + 1}: expected 6 tab-separated fields`);
      return {method: f[0], path: f[1], template: f[2], status: f[3], ctype: f[4], body: f[5], line: i + 1};
    });
}

/* The response object for a record, or a string saying why there is none. */
function findResponse(spec, rec) {
  const generic = (name) => resolveRef(spec, `#/components/responses/${name}`);
  if (rec.template === '-' || !spec.paths[rec.template]) {
    if (rec.status === '404') return generic('NotFound');
    return `path ${rec.template === '-' ? rec.path : rec.template} is not in the spec`;
  }
  const op = spec.paths[rec.template][rec.method.toLowerCase()];
  if (!op) {
    if (rec.status === '405') return generic('MethodNotAllowed');
    return `${rec.method} ${rec.template} is not in the spec`;
  }
  let r = op.responses[rec.status] || op.responses.default;
  const extra = UNDECLARED_STATUSES[`${rec.method.toLowerCase()} ${rec.template} ${rec.status}`];
  if (!r && extra) r = generic(extra);
  /* Airflow checks every request against this spec (connexion) and answers
   * a parameter or body that does not match it with 400 BadRequest, on
   * every operation, while the spec declares 400 on only some. */
  if (!r && rec.status === '400') r = generic('BadRequest');
  if (!r) return `status ${rec.status} is not declared for ${rec.method} ${rec.template}`;
  while (r.$ref) r = resolveRef(spec, r.$ref);
  return r;
}

function mediaType(ctype) {
  return ctype.split(';')[0].trim().toLowerCase();
}

function main(argv) {
  let routesFile = null;
  const args = [];
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === '--routes') routesFile = argv[++i];
    else args.push(argv[i]);
  }
  if (args.length !== 2) {
    process.stderr.write('usage: validate.js [--routes api.c] SPEC.yaml RECORDS.tsv\n');
    return 2;
  }
  const spec = yaml.load(fs.readFileSync(args[0], 'utf8'));
  const records = readRecords(args[1]);
  /* strictKeywords: a keyword ajv does not know is a mistake in strict(), not
   * something to ignore; format 'full': date-times are checked, not only matched. */
  const ajv = new Ajv({allErrors: true, jsonPointers: true, strictKeywords: true, format: 'full'});
  ajv.addFormat('datetime', ajv._formats['date-time']); /* the spec's spelling of date-time in places */
  ajv.addFormat('path', () => true);
  ajv.addFormat('password', () => true);
  const compiled = new Map();
  let failures = 0;
  const fail = (rec, where, what) => {
    failures++;
    console.log(`FAIL ${rec.method} ${rec.path} ${rec.status}: ${where}: ${what}`);
  };

  const routes = routesFile ? readRoutes(routesFile) : [];
  const covered = new Set();
  for (const rt of routes) {
    rt.template = specTemplate(spec, rt.pattern);
    if (!rt.template) {
      failures++;
      console.log(`FAIL route ${rt.method} ${rt.pattern}: no path of the spec matches it`);
    }
  }

  for (const rec of records) {
    const rt = routes.find((r) => r.method === rec.method && patternMatches(r.pattern, rec.path));
    if (rt && /^2/.test(rec.status)) covered.add(rt);
    if (rec.template === '-') {
      const anyRt = rt || routes.find((r) => patternMatches(r.pattern, rec.path));
      if (anyRt && anyRt.template) rec.template = anyRt.template;
      else if (!routesFile) rec.template = specTemplateOfPath(spec, rec.path) || '-';
    }
    const resp = findResponse(spec, rec);
    if (typeof resp === 'string') {
      fail(rec, 'status', resp);
      continue;
    }
    let bodyText;
    try {
      bodyText = fs.readFileSync(path.resolve(path.dirname(args[1]), rec.body), 'utf8');
    } catch (e) {
      fail(rec, 'body', `cannot read ${rec.body}: ${e.message}`);
      continue;
    }
    if (!resp.content) {
      if (bodyText.length) fail(rec, 'body', `no body declared, got ${bodyText.length} bytes`);
      continue;
    }
    let mt = mediaType(rec.ctype);
    /* RFC 7807's media type for a problem is JSON; Airflow sends it too. */
    if (mt === 'application/problem+json' && !resp.content[mt]) mt = 'application/json';
    const content = resp.content[mt];
    if (!content) {
      fail(rec, 'content-type', `${rec.ctype || '(none)'} is not one of ${Object.keys(resp.content).join(', ')}`);
      continue;
    }
    if (!content.schema) continue;
    let value;
    if (mt === 'application/json') {
      try {
        value = JSON.parse(bodyText);
      } catch (e) {
        fail(rec, 'body', `not JSON: ${e.message}`);
        continue;
      }
    } else {
      value = bodyText;
    }
    const key = `${rec.method} ${rec.template} ${rec.status} ${mt}`;
    let validateFn = compiled.get(key);
    if (!validateFn) {
      try {
        validateFn = ajv.compile(strict(spec, content.schema));
      } catch (e) {
        fail(rec, 'schema', e.message);
        continue;
      }
      compiled.set(key, validateFn);
    }
    if (!validateFn(value)) {
      for (const e of validateFn.errors) {
        const detail = e.params && e.params.additionalProperty !== undefined
          ? `${e.message} '${e.params.additionalProperty}'`
          : e.message;
        fail(rec, `body${e.dataPath || ''} (${e.schemaPath})`, detail);
      }
    }
  }

  for (const rt of routes) {
    if (!covered.has(rt)) {
      failures++;
      console.log(`FAIL route ${rt.method} ${rt.pattern}: no recorded call answered 2xx`);
    }
  }
  console.log(`validated ${records.length} responses against ${routes.length ? routes.length + ' routes and ' : ''}the spec: ${failures} failures`);
  return failures ? 1 : 0;
}

try {
  process.exitCode = main(process.argv.slice(2));
} catch (e) {
  console.log(`FAIL ${e.message}`);
  process.exitCode = 2;
}
