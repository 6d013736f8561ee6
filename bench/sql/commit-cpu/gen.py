# Writes a pgbench script of one W1 commit from the statement texts Dump.java printed:
#   python3 gen.py <dump> bare|full > script.pgb
# bare: BEGIN, SET LOCAL, reserve, a one-put upsert, COMMIT; full: plus the jar's last
# statement(s) (SETTLE and RELEASE_UNUSED before V6, FINISH from V6 on). One \startpipeline.
# The put's key is a new random one each time ($4 becomes ARRAY[:k::text], in every variant).
import re, sys

def parse(path):
    out, name = {}, None
    for line in open(path):
        if line.startswith('--@@ '):
            name = line[5:].strip()
            out[name] = []
        elif name:
            out[name].append(line)
    return {k: ''.join(v).strip() for k, v in out.items() if not k.endswith('MISSING')}

def sub(sql, mapping):
    for k in sorted(mapping, key=lambda x: -int(x)):
        sql = sql.replace('$' + k, mapping[k])
    return sql

def strip_comments(sql):
    return '\n'.join(l for l in (re.sub(r'--.*$', '', x) for x in sql.split('\n')) if l.strip())

s = parse(sys.argv[1])
variant = sys.argv[2]
puts = sub(s['PUTS'].replace('$4::text[]', 'ARRAY[:k::text]'),
           {'1': ':u', '2': ':n', '3': ':sec', '5': ':val', '6': ':hlc', '7': ':rep', '8': ':off', '9': ':now', '10': ':hist'})
stmts = ['BEGIN', 'SET LOCAL plan_cache_mode = force_generic_plan', sub(s['RESERVE'], {'1': ':u', '2': ':n'}), puts]
if variant == 'full':
    if 'FINISH' in s:
        stmts.append(sub(s['FINISH'], {'1': ':u', '2': ':quota'}))
    else:
        stmts += [sub(s['SETTLE'], {'1': ':u', '2': ':quota'}), sub(s['RELEASE_UNUSED'], {'1': ':u', '2': ':n'})]
stmts.append('COMMIT')
# the first transaction sleeps so that perf attaches to the backend before the measured ones
print('\\if :i = 0\n\\sleep 1500 ms\n\\set i 1\n\\endif')
print('\\set k random(1, 2000000000)')
print('\\startpipeline')
for st in stmts:
    print(strip_comments(st) + ';')
print('\\endpipeline')
