// Reference worker for `npm run bench`: forwards every request to ORIGIN_URL with no
// authentication at all. Not a gateway: it shows what the runner itself (workerd ingress, one
// subrequest, streaming the answer back) costs per request, so that the gateways' numbers can
// be read as "this much on top of the floor". Drops the hop-by-hop and credential headers only.
const DROP = ['authorization', 'cookie', 'connection', 'keep-alive', 'te', 'trailer', 'transfer-encoding', 'upgrade', 'host'];

export default {
  async fetch(request, env) {
    const headers = new Headers(request.headers);
    for (const name of DROP) headers.delete(name);
    const hasBody = request.method !== 'GET' && request.method !== 'HEAD';
    const res = await fetch(env.ORIGIN_URL, { method: request.method, headers, body: hasBody ? request.body : null });
    return new Response(res.body, { status: res.status, headers: res.headers });
  },
};
