// Splits a D1 migration file into statements, for applying it through the D1 binding
// (D1's exec() treats every line as a statement, so multi-line CREATE TABLEs need this).
// Knows SQLite's quoting ('…', "…", `…`, […]), -- and /* */ comments, and CREATE TRIGGER
// bodies (BEGIN … END;), which contain semicolons of their own.

export function splitSql(sql) {
  const statements = [];
  let current = '';
  let i = 0;
  const flush = () => {
    const s = current.trim();
    if (s) statements.push(s);
    current = '';
  };
  while (i < sql.length) {
    const c = sql[i];
    const two = sql.slice(i, i + 2);
    if (two === '--') {
      const end = sql.indexOf('\n', i);
      i = end === -1 ? sql.length : end;
      continue;
    }
    if (two === '/*') {
      const end = sql.indexOf('*/', i + 2);
      i = end === -1 ? sql.length : end + 2;
      current += ' ';
      continue;
    }
    const close = { "'": "'", '"': '"', '`': '`', '[': ']' }[c];
    if (close) {
      let j = i + 1;
      for (;;) {
        const k = sql.indexOf(close, j);
        if (k === -1) throw new Error(`unterminated ${c} in migration SQL`);
        // A doubled quote is an escaped quote inside the literal.
        if (close !== ']' && sql[k + 1] === close) { j = k + 2; continue; }
        j = k + 1;
        break;
      }
      current += sql.slice(i, j);
      i = j;
      continue;
    }
    if (c === ';') {
      const isTrigger = /^\s*CREATE\s+(TEMP\s+|TEMPORARY\s+)?TRIGGER\b/i.test(current);
      if (isTrigger && !/\bEND\s*$/i.test(current)) {
        current += c;
      } else {
        flush();
      }
      i++;
      continue;
    }
    current += c;
    i++;
  }
  flush();
  return statements;
}
