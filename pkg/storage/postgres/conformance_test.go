package postgres

// The upstream storage conformance suite, k8s.io/apiserver/pkg/storage/testing,
// run against PostgreSQL: every exported Run* function of store_tests.go and
// watcher_tests.go, wired the way etcd3's own tests wire them.
// docs/storage.md lists each one with its result.

import (
	"context"
	"fmt"
	"testing"

	"k8s.io/apiserver/pkg/features"
	storagetesting "k8s.io/apiserver/pkg/storage/testing"
	utilfeature "k8s.io/apiserver/pkg/util/feature"
	featuregatetesting "k8s.io/component-base/featuregate/testing"
)

func TestCreate(t *testing.T) {
	ctx, store := testSetup(t)
	storagetesting.RunTestCreate(ctx, t, store, checkStorageInvariants(store))
}

func TestCreateWithTTL(t *testing.T) {
	ctx, store := testSetup(t)
	storagetesting.RunTestCreateWithTTL(ctx, t, store)
}

func TestCreateWithKeyExist(t *testing.T) {
	ctx, store := testSetup(t)
	storagetesting.RunTestCreateWithKeyExist(ctx, t, store)
}

func TestGet(t *testing.T) {
	ctx, store := testSetup(t)
	storagetesting.RunTestGet(ctx, t, store)
}

func TestUnconditionalDelete(t *testing.T) {
	ctx, store := testSetup(t)
	storagetesting.RunTestUnconditionalDelete(ctx, t, store)
}

func TestConditionalDelete(t *testing.T) {
	ctx, store := testSetup(t)
	storagetesting.RunTestConditionalDelete(ctx, t, store)
}

func TestDeleteWithSuggestion(t *testing.T) {
	ctx, store := testSetup(t)
	storagetesting.RunTestDeleteWithSuggestion(ctx, t, store)
}

func TestDeleteWithSuggestionAndConflict(t *testing.T) {
	ctx, store := testSetup(t)
	storagetesting.RunTestDeleteWithSuggestionAndConflict(ctx, t, store)
}

func TestDeleteWithConflict(t *testing.T) {
	ctx, store := testSetup(t)
	storagetesting.RunTestDeleteWithConflict(ctx, t, store)
}

func TestDeleteWithSuggestionOfDeletedObject(t *testing.T) {
	ctx, store := testSetup(t)
	storagetesting.RunTestDeleteWithSuggestionOfDeletedObject(ctx, t, store)
}

func TestValidateDeletionWithSuggestion(t *testing.T) {
	ctx, store := testSetup(t)
	storagetesting.RunTestValidateDeletionWithSuggestion(ctx, t, store)
}

func TestValidateDeletionWithOnlySuggestionValid(t *testing.T) {
	ctx, store := testSetup(t)
	storagetesting.RunTestValidateDeletionWithOnlySuggestionValid(ctx, t, store)
}

func TestPreconditionalDeleteWithSuggestion(t *testing.T) {
	ctx, store := testSetup(t)
	storagetesting.RunTestPreconditionalDeleteWithSuggestion(ctx, t, store)
}

func TestPreconditionalDeleteWithOnlySuggestionPass(t *testing.T) {
	ctx, store := testSetup(t)
	storagetesting.RunTestPreconditionalDeleteWithOnlySuggestionPass(ctx, t, store)
}

func TestList(t *testing.T) {
	ctx, store := testSetup(t)
	storagetesting.RunTestList(ctx, t, store, compaction(store), false, nil)
}

func TestConsistentList(t *testing.T) {
	ctx, store := testSetup(t)
	storagetesting.RunTestConsistentList(ctx, t, store, increaseRV(store), false, true, false)
}

func TestGetListNonRecursive(t *testing.T) {
	ctx, store := testSetup(t)
	storagetesting.RunTestGetListNonRecursive(ctx, t, increaseRV(store), store)
}

func TestGetListRecursivePrefix(t *testing.T) {
	ctx, store := testSetup(t)
	storagetesting.RunTestGetListRecursivePrefix(ctx, t, store)
}

func TestListContinuation(t *testing.T) {
	ctx, store := testSetup(t)
	storagetesting.RunTestListContinuation(ctx, t, store, callsValidation(store))
}

func TestListPaginationRareObject(t *testing.T) {
	ctx, store := testSetup(t)
	storagetesting.RunTestListPaginationRareObject(ctx, t, store, callsValidation(store))
}

func TestListContinuationWithFilter(t *testing.T) {
	ctx, store := testSetup(t)
	storagetesting.RunTestListContinuationWithFilter(ctx, t, store, callsValidation(store))
}

func TestListInconsistentContinuation(t *testing.T) {
	ctx, store := testSetup(t)
	storagetesting.RunTestListInconsistentContinuation(ctx, t, store, compaction(store))
}

func TestListResourceVersionMatch(t *testing.T) {
	ctx, store := testSetup(t)
	storagetesting.RunTestListResourceVersionMatch(ctx, t, storeWithPrefixTransformer{store})
}

func TestGuaranteedUpdate(t *testing.T) {
	ctx, store := testSetup(t)
	storagetesting.RunTestGuaranteedUpdate(ctx, t, storeWithPrefixTransformer{store}, checkStorageInvariants(store))
}

func TestGuaranteedUpdateWithTTL(t *testing.T) {
	ctx, store := testSetup(t)
	storagetesting.RunTestGuaranteedUpdateWithTTL(ctx, t, store)
}

// TestGuaranteedUpdateChecksStoredData stores a value with white space before
// it, which only JSON reads.
func TestGuaranteedUpdateChecksStoredData(t *testing.T) {
	ctx, store := testSetup(t, withJSONValues())
	storagetesting.RunTestGuaranteedUpdateChecksStoredData(ctx, t, storeWithPrefixTransformer{store})
}

func TestGuaranteedUpdateWithConflict(t *testing.T) {
	ctx, store := testSetup(t)
	storagetesting.RunTestGuaranteedUpdateWithConflict(ctx, t, store)
}

func TestGuaranteedUpdateWithSuggestionAndConflict(t *testing.T) {
	ctx, store := testSetup(t)
	storagetesting.RunTestGuaranteedUpdateWithSuggestionAndConflict(ctx, t, store)
}

func TestTransformationFailure(t *testing.T) {
	ctx, store := testSetup(t)
	storagetesting.RunTestTransformationFailure(ctx, t, storeWithPrefixTransformer{store})
}

func TestStats(t *testing.T) {
	for _, sizeEnabled := range []bool{true, false} {
		t.Run(fmt.Sprintf("SizeBasedListCostEstimate=%v", sizeEnabled), func(t *testing.T) {
			ctx, store := testSetup(t)
			if sizeEnabled {
				if err := store.EnableResourceSizeEstimation(func(context.Context) ([]string, error) { return nil, nil }); err != nil {
					t.Fatal(err)
				}
			}
			storagetesting.RunTestStats(ctx, t, store, store.codec, store.Transformer(), sizeEnabled)
		})
	}
}

func TestListPaging(t *testing.T) {
	ctx, store := testSetup(t)
	storagetesting.RunTestListPaging(ctx, t, store)
}

func TestNamespaceScopedList(t *testing.T) {
	ctx, store := testSetup(t)
	storagetesting.RunTestNamespaceScopedList(ctx, t, store)
}

func TestCompactRevision(t *testing.T) {
	ctx, store := testSetup(t)
	storagetesting.RunTestCompactRevision(ctx, t, store, increaseRV(store), compaction(store))
}

func TestKeySchema(t *testing.T) {
	ctx, store := testSetup(t)
	storagetesting.RunTestKeySchema(ctx, t, store)
}

func TestWatch(t *testing.T) {
	ctx, store := testSetup(t)
	storagetesting.RunTestWatch(ctx, t, store)
}

func TestWatchFromZero(t *testing.T) {
	ctx, store := testSetup(t)
	storagetesting.RunTestWatchFromZero(ctx, t, store, compaction(store))
}

func TestDeleteTriggerWatch(t *testing.T) {
	ctx, store := testSetup(t)
	storagetesting.RunTestDeleteTriggerWatch(ctx, t, store)
}

func TestWatchFromNonZero(t *testing.T) {
	ctx, store := testSetup(t)
	storagetesting.RunTestWatchFromNonZero(ctx, t, store)
}

func TestDelayedWatchDelivery(t *testing.T) {
	ctx, store := testSetup(t)
	storagetesting.RunTestDelayedWatchDelivery(ctx, t, store)
}

func TestWatchError(t *testing.T) {
	ctx, store := testSetup(t)
	storagetesting.RunTestWatchError(ctx, t, storeWithPrefixTransformer{store})
}

func TestWatchWithUnsafeDelete(t *testing.T) {
	featuregatetesting.SetFeatureGateDuringTest(t, utilfeature.DefaultFeatureGate, features.AllowUnsafeMalformedObjectDeletion, true)
	ctx, store := testSetup(t)
	storagetesting.RunTestWatchWithUnsafeDelete(ctx, t, storeWithCorruptTransformer{store})
}

func TestWatchContextCancel(t *testing.T) {
	ctx, store := testSetup(t)
	storagetesting.RunTestWatchContextCancel(ctx, t, store)
}

func TestWatcherTimeout(t *testing.T) {
	ctx, store := testSetup(t)
	storagetesting.RunTestWatcherTimeout(ctx, t, store)
}

func TestWatchDeleteEventObjectHaveLatestRV(t *testing.T) {
	ctx, store := testSetup(t)
	storagetesting.RunTestWatchDeleteEventObjectHaveLatestRV(ctx, t, store)
}

func TestWatchInitializationSignal(t *testing.T) {
	ctx, store := testSetup(t)
	storagetesting.RunTestWatchInitializationSignal(ctx, t, store)
}

func TestProgressNotify(t *testing.T) {
	ctx, store := testSetup(t)
	storagetesting.RunOptionalTestProgressNotify(ctx, t, store, increaseRV(store))
}

func TestClusterScopedWatch(t *testing.T) {
	ctx, store := testSetup(t)
	storagetesting.RunTestClusterScopedWatch(ctx, t, store)
}

func TestNamespaceScopedWatch(t *testing.T) {
	ctx, store := testSetup(t)
	storagetesting.RunTestNamespaceScopedWatch(ctx, t, store)
}

func TestWatchDispatchBookmarkEvents(t *testing.T) {
	ctx, store := testSetup(t)
	// Unlike etcd3's store, ours sends bookmarks to watches that allow them.
	storagetesting.RunTestWatchDispatchBookmarkEvents(ctx, t, store, true)
}

func TestWatchBookmarksWithCorrectResourceVersion(t *testing.T) {
	ctx, store := testSetup(t)
	storagetesting.RunTestOptionalWatchBookmarksWithCorrectResourceVersion(ctx, t, store)
}

func TestSendInitialEventsBackwardCompatibility(t *testing.T) {
	ctx, store := testSetup(t)
	storagetesting.RunSendInitialEventsBackwardCompatibility(ctx, t, store)
}

func TestWatchSemantics(t *testing.T) {
	ctx, store := testSetup(t)
	storagetesting.RunWatchSemantics(ctx, t, store)
}

func TestWatchSemanticsWithConcurrentDecode(t *testing.T) {
	featuregatetesting.SetFeatureGateDuringTest(t, utilfeature.DefaultFeatureGate, features.ConcurrentWatchObjectDecode, true)
	ctx, store := testSetup(t)
	storagetesting.RunWatchSemantics(ctx, t, store)
}

func TestWatchSemanticInitialEventsExtended(t *testing.T) {
	ctx, store := testSetup(t)
	storagetesting.RunWatchSemanticInitialEventsExtended(ctx, t, store)
}

func TestWatchListMatchSingle(t *testing.T) {
	ctx, store := testSetup(t)
	storagetesting.RunWatchListMatchSingle(ctx, t, store)
}

func TestWatchErrorIsBlockingFurtherEvents(t *testing.T) {
	ctx, store := testSetup(t)
	storagetesting.RunWatchErrorIsBlockingFurtherEvents(ctx, t, storeWithPrefixTransformer{store})
}
