// The store's named actions, one module per concern. Components import from here and never write the store or
// hold the engine client themselves.
export { recoverFromDeviceLoss, simulateDeviceLoss, startEngine, switchBackend } from './engine';
export {
  cancelLoad, confirmRedirect, declineRedirect, isHubModelCached, loadHubForTesting, loadModel, refreshCached, reloadModel,
} from './model';
export { attributeOnTop, cancelRun, clearOnTop, computeCleanAttention, exactPatch, hasHead, run, RUN_FAMILIES, setSpec, validate } from './run';
export { clearSelection, patchCell, selectCell } from './selection';
export { cannotPatch, currentRun } from './shared';
export { cancelSweep, sweep, type SweepTarget } from './sweep';
export { dismissNotice, selectHead, setAttentionMode, setNormalised, setPerPosition, setTab, showPresetView } from './view';
export {
  applyCircuitLink, cancelCurves, circuitLinkState, computeEdges, findEdge, currentCircuit, patchEdge, runCurves, selectNode, setCircuitN, type CurveRequest,
} from './circuit';
export { cancelVerify, computeEstimate, setEstimator, verifyTopK } from './estimators';
