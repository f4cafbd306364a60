// The candidate pair a peer connection uses, as getStats reports it (shared by the pages of this folder;
// StaticPageServer.Page inlines it where a page names it).
async function selectedPair(pc) {
  const stats = await pc.getStats();
  let pair = null;
  stats.forEach(s => {
    if (s.type === 'transport' && s.selectedCandidatePairId) pair = stats.get(s.selectedCandidatePairId) || pair;
  });
  if (!pair) {
    stats.forEach(s => {
      if (s.type === 'candidate-pair' && s.nominated && s.state === 'succeeded') pair = s;
    });
  }
  if (!pair) return null;
  const candidate = id => {
    const c = stats.get(id);
    return c ? {
      candidateType: c.candidateType,
      protocol: c.protocol,
      relayProtocol: c.relayProtocol ?? null,
      address: c.address ?? null,
      port: c.port ?? null,
      url: c.url ?? null,
    } : null;
  };
  return {
    state: pair.state,
    nominated: !!pair.nominated,
    bytesSent: pair.bytesSent ?? 0,
    bytesReceived: pair.bytesReceived ?? 0,
    local: candidate(pair.localCandidateId),
    remote: candidate(pair.remoteCandidateId),
  };
}
