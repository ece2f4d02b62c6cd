package client

import (
	"context"
	"net/http"

	"github.com/gatehouse-dev/gatehouse/admin"
)

// The service-account shapes are the control plane's own, as in api.go.
// APIKey.Key, the secret, is set only in the answers of create and rotate;
// it is an admin.Secret, which prints as [redacted]: string(k.Key) is the
// key.
type (
	ServiceAccount       = admin.ServiceAccount
	CreateServiceAccount = admin.CreateServiceAccount
	UpdateServiceAccount = admin.UpdateServiceAccount
	APIKey               = admin.APIKey
	CreateAPIKey         = admin.CreateAPIKey
)

// ListServiceAccounts returns every service account.
func (c *Client) ListServiceAccounts(ctx context.Context) (Result[[]ServiceAccount], error) {
	return list[ServiceAccount](ctx, c, "/service-accounts", nil)
}

// CreateServiceAccount creates a service account.
func (c *Client) CreateServiceAccount(ctx context.Context, in CreateServiceAccount) (Result[ServiceAccount], error) {
	return do[ServiceAccount](ctx, c, http.MethodPost, "/service-accounts", nil, in)
}

// GetServiceAccount returns a service account by name or id.
func (c *Client) GetServiceAccount(ctx context.Context, sa string) (Result[ServiceAccount], error) {
	p, err := segment("service account", sa)
	if err != nil {
		return Result[ServiceAccount]{}, err
	}
	return do[ServiceAccount](ctx, c, http.MethodGet, "/service-accounts/"+p, nil, nil)
}

// UpdateServiceAccount changes a service account; deactivating it ends
// every key of it at once.
func (c *Client) UpdateServiceAccount(ctx context.Context, sa string, in UpdateServiceAccount) (Result[ServiceAccount], error) {
	p, err := segment("service account", sa)
	if err != nil {
		return Result[ServiceAccount]{}, err
	}
	return do[ServiceAccount](ctx, c, http.MethodPatch, "/service-accounts/"+p, nil, in)
}

// DeleteServiceAccount deletes a service account and its keys.
func (c *Client) DeleteServiceAccount(ctx context.Context, sa string) error {
	p, err := segment("service account", sa)
	if err != nil {
		return err
	}
	_, err = c.send(ctx, http.MethodDelete, "/service-accounts/"+p, nil, nil)
	return err
}

// keysPath is the path of a service account's keys, or of one key when
// key is not empty.
func keysPath(sa, key string) (string, error) {
	p, err := segment("service account", sa)
	if err != nil {
		return "", err
	}
	path := "/service-accounts/" + p + "/api-keys"
	if key == "" {
		return path, nil
	}
	k, err := segment("API key", key)
	if err != nil {
		return "", err
	}
	return path + "/" + k, nil
}

// ListAPIKeys returns a service account's keys.
func (c *Client) ListAPIKeys(ctx context.Context, sa string) (Result[[]APIKey], error) {
	path, err := keysPath(sa, "")
	if err != nil {
		return Result[[]APIKey]{}, err
	}
	return list[APIKey](ctx, c, path, nil)
}

// CreateAPIKey creates a key; the answer holds the secret, this once.
func (c *Client) CreateAPIKey(ctx context.Context, sa string, in CreateAPIKey) (Result[APIKey], error) {
	path, err := keysPath(sa, "")
	if err != nil {
		return Result[APIKey]{}, err
	}
	return do[APIKey](ctx, c, http.MethodPost, path, nil, in)
}

// GetAPIKey returns one key of a service account, by name or id.
func (c *Client) GetAPIKey(ctx context.Context, sa, key string) (Result[APIKey], error) {
	path, err := keysPath(sa, key)
	if err != nil {
		return Result[APIKey]{}, err
	}
	return do[APIKey](ctx, c, http.MethodGet, path, nil, nil)
}

// RotateAPIKey issues a new secret under the key's name; the old one stays
// valid for retain ("" or "0s": not at all). The answer holds the new
// secret, this once.
func (c *Client) RotateAPIKey(ctx context.Context, sa, key, retain string) (Result[APIKey], error) {
	path, err := keysPath(sa, key)
	if err != nil {
		return Result[APIKey]{}, err
	}
	return do[APIKey](ctx, c, http.MethodPost, path+"/rotate", nil, admin.RotateAPIKey{Retain: retain})
}

// DeactivateAPIKey ends a key for good; it stays listed.
func (c *Client) DeactivateAPIKey(ctx context.Context, sa, key string) (Result[APIKey], error) {
	path, err := keysPath(sa, key)
	if err != nil {
		return Result[APIKey]{}, err
	}
	inactive := false
	return do[APIKey](ctx, c, http.MethodPatch, path, nil, admin.UpdateAPIKey{Active: &inactive})
}

// DeleteAPIKey deletes a key.
func (c *Client) DeleteAPIKey(ctx context.Context, sa, key string) error {
	path, err := keysPath(sa, key)
	if err != nil {
		return err
	}
	_, err = c.send(ctx, http.MethodDelete, path, nil, nil)
	return err
}
