package printers

import (
	"strconv"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	policyv1alpha1 "sigs.k8s.io/network-policy-api/apis/v1alpha1"

	"github.com/podnet/podnet/pkg/source"
)

// The CRDs' printer columns: NAME, PRIORITY, AGE for AdminNetworkPolicy,
// NAME, AGE for BaselineAdminNetworkPolicy.

func adminNetworkPolicyColumns() []metav1.TableColumnDefinition {
	return []metav1.TableColumnDefinition{nameColumn(), column("Priority"), column("Age")}
}

func adminNetworkPolicyRow(o source.Object, c cellContext) ([]any, error) {
	anp, err := typed[*policyv1alpha1.AdminNetworkPolicy](o)
	if err != nil {
		return nil, err
	}
	return []any{anp.Name, strconv.Itoa(int(anp.Spec.Priority)), c.age(anp.CreationTimestamp)}, nil
}

func baselineAdminNetworkPolicyColumns() []metav1.TableColumnDefinition {
	return []metav1.TableColumnDefinition{nameColumn(), column("Age")}
}

func baselineAdminNetworkPolicyRow(o source.Object, c cellContext) ([]any, error) {
	banp, err := typed[*policyv1alpha1.BaselineAdminNetworkPolicy](o)
	if err != nil {
		return nil, err
	}
	return []any{banp.Name, c.age(banp.CreationTimestamp)}, nil
}
